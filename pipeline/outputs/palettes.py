"""Matplotlib's colour ramps of the mapped indicators, as data: colours without matplotlib.

A run with ``[output] maps = false`` still colours classes (the GeoPackage's QGIS styles use
the maps' classes and colours) but draws nothing; importing matplotlib for six ramps would
cost it about 0.1 s of a one-second run. :data:`RAMPS` holds the 256 colours of matplotlib's
lookup table of each ramp the indicators use (copied from matplotlib 3.11 by
:func:`ramp_from_matplotlib`; ``tests/test_outputs_palettes.py`` checks them against the
installed matplotlib, colour by colour), and :func:`colour_at` picks a colour the way
matplotlib's ``Colormap.__call__`` does for a position in [0, 1]. Other ramps come from
matplotlib itself.
"""

from __future__ import annotations

from functools import cache

LUT_SIZE = 256  # colours in each of matplotlib's ramps (its ``Colormap.N``; rcParams image.lut)


def colour_at(cmap: str, position: float) -> str:
    """The ``#rrggbb`` colour of matplotlib's ramp ``cmap`` at ``position`` (0 to 1).

    The same colour as ``matplotlib.colors.to_hex(matplotlib.colormaps[cmap](position))``.
    """
    if not 0.0 <= position <= 1.0:
        raise ValueError(f"colour ramp position {position!r} outside [0, 1]")
    table = RAMPS.get(cmap)
    if table is None:
        return _matplotlib_colour(cmap, position)
    index = min(int(position * LUT_SIZE), LUT_SIZE - 1)  # matplotlib: x * N, 1.0 -> N - 1
    return "#" + table[6 * index : 6 * index + 6]


@cache
def _matplotlib_colour(cmap: str, position: float) -> str:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    return to_hex(colormaps[cmap](position))


def ramp_from_matplotlib(cmap: str) -> str:
    """The colours of matplotlib's lookup table of ``cmap``, as one string of ``rrggbb``
    (how :data:`RAMPS` stores them)."""
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    palette = colormaps[cmap]
    return "".join(to_hex(colour)[1:] for colour in palette(np.arange(palette.N)))


# fmt: off
RAMPS: dict[str, str] = {
    "OrRd": (
        "fff7ecfff7ebfff6eafff6e9fff5e7fff5e6fff4e5fff4e4fff3e3fff3e2fff2e1fff2e0fff1defff1dd"
        "fff0dcfff0dbfeefdafeefd9feefd8feeed7feeed5feedd4feedd3feecd2feecd1feebd0feebcffeeace"
        "feeaccfee9cbfee9cafee8c9fee8c8fee7c7fee7c5fee6c4fee5c3fee5c1fee4c0fee4bffee3bdfee2bc"
        "fee2bbfee1b9fee0b8fee0b7fedfb5fedfb4fddeb3fdddb1fdddb0fddcaffddbadfddbacfddaabfdd9aa"
        "fdd9a8fdd8a7fdd8a6fdd7a4fdd6a3fdd6a2fdd5a0fdd49ffdd49efdd39dfdd29cfdd19bfdd19bfdd09a"
        "fdcf99fdce98fdce97fdcd96fdcc96fdcb95fdca94fdca93fdc992fdc892fdc791fdc690fdc68ffdc58e"
        "fdc48dfdc38dfdc38cfdc28bfdc18afdc089fdbf89fdbf88fdbe87fdbd86fdbc85fdbb85fdba83fdb982"
        "fdb881fdb67ffdb57efdb37dfdb27bfdb07afdaf79fdad77fdac76fdab75fda973fda872fda671fda56f"
        "fca36efca26dfca06bfc9f6afc9e69fc9c67fc9b66fc9964fc9863fc9662fc9560fc935ffc925efc915c"
        "fc8f5bfc8e5afc8c59fb8b58fb8a58fb8957fa8757fa8656f98556f98455f98254f88154f88053f77f53"
        "f77d52f67c52f67b51f67a51f57850f57750f4764ff4754ff4734ef3724ef3714df2704cf26e4cf26d4b"
        "f16c4bf16a4af0694af06849f06749ef6548ef6447ee6246ed6145ec5f43ec5d42eb5c41ea5a3fe9583e"
        "e9573de8553ce7533ae65239e55038e54e36e44d35e34b34e24933e24831e14630e0442fdf432ddf412c"
        "de3f2bdd3e2adc3c28dc3a27db3926da3724d93523d93422d83221d7301fd62f1ed52d1dd42c1cd32a1b"
        "d2291ad12719cf2618ce2417cd2316cc2116cb2015ca1e14c91d13c71b12c61a11c51810c4170fc3150e"
        "c2140dc1120cc0110bbe0f0abd0e09bc0c08bb0b07ba0906b90805b80604b70503b50302b40201b30000"
        "b20000b00000ae0000ad0000ab0000a90000a80000a60000a50000a30000a10000a000009e00009c0000"
        "9b00009900009700009600009400009300009100008f00008e00008c00008a0000890000870000860000"
        "8400008200008100007f0000"
    ),
    "YlGn": (
        "ffffe5ffffe4feffe2feffe1feffdffeffdefdfeddfdfedbfdfedafdfed9fcfed7fcfed6fcfed4fcfed3"
        "fbfed2fbfed0fbfdcffbfdcefafdccfafdcbfafdc9fafdc8f9fdc7f9fdc5f9fdc4f9fdc2f8fdc1f8fcc0"
        "f8fcbef8fcbdf7fcbcf7fcbaf7fcb9f6fcb8f5fbb8f4fbb7f3fab6f2fab5f1fab5f0f9b4eff9b3eef9b3"
        "edf8b2edf8b1ecf7b1ebf7b0eaf7afe9f6afe8f6aee7f6ade6f5ace5f5ace4f4abe3f4aae2f4aae1f3a9"
        "e0f3a8dff3a8def2a7ddf2a6ddf1a6dcf1a5dbf1a4daf0a4d9f0a3d7efa2d6efa2d5eea1d3eda0d2eda0"
        "d0ec9fcfec9eceeb9eccea9dcbea9cc9e99cc8e99bc7e89ac5e89ac4e799c3e698c1e698c0e597bee596"
        "bde496bce395bae394b9e294b8e293b6e192b5e092b3e091b2df90b1df90afde8faedd8eacdd8eabdc8d"
        "a9db8ca7db8ca6da8ba4d98aa2d88aa1d8899fd7889dd6889cd6879ad58798d48697d38595d38593d284"
        "92d18390d0838ed0828dcf818bce8189ce8088cd7f86cc7f84cb7e83cb7d81ca7d7fc97c7ec97b7cc87b"
        "7ac77a79c67977c67975c57874c47772c37670c2756fc1746dc0736bc07269bf7268be7166bd7064bc6f"
        "62bb6e61bb6d5fba6c5db96b5cb86b5ab76a58b66956b56855b56753b46651b3654fb2644eb1634cb063"
        "4ab06249af6147ae6045ad5f43ac5e42ab5d40aa5c3fa95c3fa85b3ea75a3da5593ca4583ba3583aa257"
        "39a056389f55379e54369d54359c53349a5233995132985031974f30954f2f944e2f934d2e924c2d914b"
        "2c8f4b2b8e4a2a8d49298c48288a472789462688462587452486442384432283432182422082421f8142"
        "1e80411d7f411c7e401a7d40197c40187b3f177b3f167a3f15793e14783e13773d12763d11753d10743c"
        "0e743c0d733c0c723b0b713b0a703a096f3a086e3a076d39066d39056c39036b38026a38016937006837"
        "006737006636006536006435006335006234006034005f34005e33005d33005c32005b32005a31005931"
        "00583000573000553000542f00532f00522e00512e00502d004f2d004e2d004d2c004c2c004a2b00492b"
        "00482a00472a004629004529"
    ),
    "RdBu_r": (
        "05306106326407346708366a09386d0a3b700c3d730d3f760e41790f437b10457e114781124984134c87"
        "144e8a15508d1752901854931956961a58991b5a9c1c5c9f1d5fa21e61a51f63a82065ab2267ac2369ad"
        "246aae266caf276eb02870b12a71b22b73b32c75b42e77b52f79b5307ab6327cb7337eb83480b93681ba"
        "3783bb3885bc3a87bd3b88be3c8abe3e8cbf3f8ec0408fc14291c24393c34695c44997c54c99c64f9bc7"
        "529dc8569fc959a1ca5ca3cb5fa5cd62a7ce65a9cf68abd06bacd16eaed271b0d375b2d478b4d57bb6d6"
        "7eb8d781bad884bcd987beda8ac0db8dc2dc90c4dd93c6de96c7df98c8e09bc9e09dcbe1a0cce2a2cde3"
        "a5cee3a7d0e4a9d1e5acd2e5aed3e6b1d5e7b3d6e8b6d7e8b8d8e9bbdaeabddbeac0dcebc2ddecc5dfec"
        "c7e0edcae1eecce2efcfe4efd1e5f0d2e6f0d4e6f1d5e7f1d7e8f1d8e9f1dae9f2dbeaf2ddebf2deebf2"
        "e0ecf3e1edf3e3edf3e4eef4e6eff4e7f0f4e9f0f4eaf1f5ecf2f5edf2f5eff3f5f0f4f6f2f5f6f3f5f6"
        "f5f6f7f6f7f7f7f6f6f7f5f4f8f4f2f8f3f0f8f2eff8f1edf9f0ebf9efe9f9eee7f9ede5f9ebe3faeae1"
        "fae9dffae8defae7dcfbe6dafbe5d8fbe4d6fbe3d4fce2d2fce0d0fcdfcffcdecdfdddcbfddcc9fddbc7"
        "fdd9c4fcd7c2fcd5bffcd3bcfbd0b9fbceb7fbccb4facab1fac8aff9c6acf9c4a9f9c2a7f8bfa4f8bda1"
        "f8bb9ef7b99cf7b799f7b596f6b394f6b191f6af8ef5ac8bf5aa89f5a886f4a683f3a481f2a17ff19e7d"
        "f09c7bef9979ee9677ec9374eb9172ea8e70e98b6ee8896ce6866ae58368e48066e37e64e27b62e17860"
        "df765ede735cdd7059dc6e57db6b55da6853d86551d7634fd6604dd55d4cd35a4ad25849d05548cf5246"
        "ce4f45cc4c44cb4942c94741c84440c6413ec53e3dc43b3cc2383ac13639bf3338be3036bd2d35bb2a34"
        "ba2832b82531b72230b61f2eb41c2db3192cb1182bae172aab162aa81529a51429a213289f12289c1127"
        "991027960f27930e26900d268d0c258a0b25870a248409248108237f08237c0722790622760521730421"
        "7003206d02206a011f67001f"
    ),
    "PuOr": (
        "7f3b08813c08833d08853e088740088941088b42088d43078f44079145079346079548079749079a4a07"
        "9c4b079e4c07a04d07a24e07a44f07a65107a85206aa5306ac5406ae5506b05606b25706b45906b65a07"
        "b75c07b95e08bb5f08bd6109be630ac0640ac2660bc4680bc6690cc76b0cc96d0dcb6e0dcd700ece720f"
        "d0730fd27510d47610d57811d77a11d97b12db7d12dc7f13de8013e08214e18417e2861ae3881de58a20"
        "e68d23e78f27e8912ae9932dea9530eb9733ed9936ee9b39ef9e3cf0a03ff1a242f2a446f3a649f4a84c"
        "f6aa4ff7ac52f8ae55f9b158fab35bfbb55efcb761fdb965fdba68fdbc6bfdbd6efdbf72fdc175fdc278"
        "fdc47bfdc57ffdc782fdc885fdca88fdcc8cfecd8ffecf92fed095fed299fed39cfed59ffed7a2fed8a6"
        "fedaa9fedbacfeddaffedeb3fee0b6fee1b9fde2bbfde3befde4c0fde5c3fce5c5fce6c8fce7cafce8cd"
        "fbe9cffbead2fbebd5faecd7faeddafaeedcfaeedff9efe1f9f0e4f9f1e6f9f2e9f8f3ecf8f4eef8f5f1"
        "f7f6f3f7f7f6f6f6f7f5f5f6f4f4f6f3f3f5f2f2f5f0f1f4eff0f4eeeef3ededf3ebecf3eaebf2e9eaf2"
        "e8e9f1e7e8f1e5e7f0e4e5f0e3e4efe2e3efe1e2eedfe1eedee0eddddfeddcddecdadcecd9dbebd8daeb"
        "d7d8ead5d6e9d4d4e8d2d3e7d1d1e6cfcfe5cecde4cccbe3cbc9e2c9c8e1c8c6e0c6c4dfc5c2dec3c0dd"
        "c2bedcc0bddbbfbbdabdb9d9bcb7d8bab5d7b9b3d6b7b1d5b6b0d4b4aed3b3acd2b1aad1afa8d0ada6ce"
        "aba3cda9a1cba79fcaa59dc8a39bc7a198c59f96c49d94c29b92c19990bf988dbe968bbc9489bb9287b9"
        "9085b88e82b68c80b58a7eb3887cb2867ab08477af8275ad8073ac7e70ab7d6da97b6aa87967a67764a5"
        "7661a4745ea2725ba170589f6f559e6d529c6b4f9b6a4c9a684998664697644395634094613d935f3a91"
        "5d37905c348e5a318d582e8c572b8a5528895326875225845023824f22804d207d4c1f7b4a1d78491c76"
        "471a7445187144176f42156c41146a3f12683e11653c0f633b0e61390c5e380b5c360959350857330655"
        "3205523003502f024d2d004b"
    ),
    "BrBG": (
        "5430055631055833055b34065d35065f3606613806633906663a07683c076a3d076c3e076e4007714108"
        "7342087543087745087946087c47097e4909804a09824b09844c09874e0a894f0a8b500a8d520b8f540c"
        "91560d93580f955910975b12995d139b5f149d61169f6317a16518a3671aa5691ba76a1da96c1eab6e1f"
        "ad7021af7222b17423b37625b57826b77928b97b29bb7d2abd7f2cbf812dc08430c28633c38936c48b3a"
        "c58e3dc79040c89343c99546ca9849cc9a4ccd9d50cea053cfa256d1a559d2a75cd3aa5fd4ac62d6af65"
        "d7b169d8b46cd9b76fdbb972dcbc75ddbe78dec17bdfc37ee0c481e1c684e2c787e3c989e4ca8ce5cc8f"
        "e6cd92e7cf94e8d097e8d29ae9d39dead59febd6a2ecd8a5edd9a8eedbaaefdcadf0deb0f1dfb3f1e1b5"
        "f2e2b8f3e4bbf4e5bef5e7c0f6e8c3f6e9c5f6e9c7f6eac9f6eacbf6ebcdf6ebcff6ecd1f6ecd3f6edd5"
        "f6edd7f6eed9f6eedbf5efdcf5efdef5f0e0f5f0e2f5f1e4f5f1e6f5f2e8f5f2eaf5f3ecf5f3eef5f4f0"
        "f5f4f2f5f5f4f4f5f5f2f4f4f0f4f3eff3f3edf3f2ebf3f2e9f2f1e7f2f0e6f1f0e4f1efe2f0eee0f0ee"
        "def0edddefeddbefecd9eeebd7eeebd5edead4ede9d2ede9d0ece8ceece8ccebe7cbebe6c9eae6c7eae5"
        "c4e9e4c1e8e2bfe7e1bce5dfb9e4deb6e3ddb4e2dbb1e1daaee0d8abdfd7a8ddd5a6dcd4a3dbd3a0dad1"
        "9dd9d09ad8ce98d7cd95d6cc92d4ca8fd3c98dd2c78ad1c687d0c584cfc381cec27fccc07ccabe79c8bc"
        "76c6ba73c3b870c1b66dbfb46abdb267bbb064b9ae61b7ac5eb5aa5bb3a858b0a755aea552aca34faaa1"
        "4da89f4aa69d47a49b44a299419f973e9d953b9b9338999135978f33958d31938b2f91892d8f872b8d85"
        "298b83278a8225888023867e21847c1f827a1d80781a7e76187c74167a7214787012766e10746c0e726a"
        "0c71690a6f67086d65066b6304696102675f01655d01645b016259016058015f56015d54015b52015a50"
        "01584f01564d01554b015349015147005046004e44004c42004b4000493e00483d00463b004439004337"
        "004135003f34003e32003c30"
    ),
    "RdYlGn": (
        "a50026a70226a90426ab0626ad0826af0926b10b26b30d26b50f26b71126b91326bb1526bd1726be1827"
        "c01a27c21c27c41e27c62027c82227ca2427cc2627ce2827d02927d22b27d42d27d62f27d83128d93429"
        "da362adb382bdc3b2cdd3d2dde402ee0422fe14430e24731e34933e44c34e54e35e65036e75337e95538"
        "ea5739eb5a3aec5c3bed5f3cee613eef633ff16640f26841f36b42f46d43f47044f57245f57547f57748"
        "f67a49f67c4af67f4bf7814cf7844ef8864ff88950f88c51f98e52f99153f99355fa9656fa9857fa9b58"
        "fb9d59fba05bfba35cfca55dfca85efcaa5ffdad60fdaf62fdb163fdb365fdb567fdb768fdb96afdbb6c"
        "fdbd6dfdbf6ffdc171fdc372fdc574fdc776fec877feca79fecc7bfece7cfed07efed27ffed481fed683"
        "fed884feda86fedc88fede89fee08bfee18dfee28ffee491fee593fee695fee797fee999feea9bfeeb9d"
        "feec9ffeeda1feefa3fff0a6fff1a8fff2aafff3acfff5aefff6b0fff7b2fff8b4fffab6fffbb8fffcba"
        "fffdbcfffebefeffbefdfebcfbfdbafafdb8f8fcb6f7fcb4f5fbb2f4fab0f2faaef1f9aceff8aaeef8a8"
        "ecf7a6ebf7a3e9f6a1e8f59fe6f59de5f49be3f399e2f397e0f295dff293ddf191dcf08fdaf08dd9ef8b"
        "d7ee8ad5ed88d3ec87d1ec86cfeb85cdea83cbe982c9e881c7e77fc5e67ec3e67dc1e57bbfe47abde379"
        "bbe278b9e176b7e075b5df74b3df72b1de71afdd70addc6fabdb6da9da6ca7d96ba5d86aa2d76aa0d669"
        "9dd5699bd46998d36896d26893d16891d0688ecf678ccd6789cc6787cb6784ca6682c9667fc8667dc765"
        "7ac66578c56575c46573c26470c1646ec0646bbf6469be6366bd6363bc6260ba625db9615ab76057b65f"
        "54b45f51b35e4eb15d4bb05c48ae5c45ad5b42ac5a3faa593ca95939a75836a65733a45630a3562da155"
        "2aa054279f53249d53219c521e9a511b995019975018954f17934e16914d15904c148e4b138c4a128a49"
        "1188481086470f84460e82450d80440c7f430b7d420a7b4109794008773f07753e06733d05713c04703b"
        "036e3a026c39016a38006837"
    ),
}
# fmt: on
