"""The embedded assets: what each file is, its checksum, and where a user gets it.

Nothing here copies or downloads anything. ``Assets.file`` returns a verified path or raises
``AssetMissing`` (tests skip with it) / ``AssetCorrupt`` (always an error): a truncated weight
file must never quietly turn into a low AP. ``Assets.directory`` holds the embedded image
folders to their per-image checksums (``compbench.embedded_images``) for the same reason.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from compbench.embedded_images import EMBEDDED_IMAGES
from compbench.errors import AssetCorrupt, AssetMissing, BadOption
from compbench.settings import ASSETS_ENV, REPO_ROOT, resolve_assets_dir

OVERRIDES_ENV = "COMPBENCH_ASSET_OVERRIDES"  # "relpath=path;relpath=path"
REPO_PREFIX = "repo:"

WIDER_SOURCE = "the WIDER FACE dataset site (WIDER_val.zip, wider_face_split.zip, eval_tools.zip)"
SCRFD_SOURCE = "the insightface SCRFD model zoo (detection/scrfd)"
CIFAR_SOURCE = "the CIFAR-10 home page (cifar-10-batches-py) or the embedded JPEG copy"


@dataclass(frozen=True)
class AssetSpec:
    relpath: str
    sha256: str | None
    what: str
    source: str


_SPECS = [
    AssetSpec("scrfd/SCRFD_500M_KPS.pth",
              "0a124f5552333877b399089a6178662f5d59de4abf97721df624b8d86a82bb84",
              "SCRFD_500M_KPS PyTorch weights", SCRFD_SOURCE),
    AssetSpec("scrfd/scrfd_500m_kps.onnx",
              "517cb1980c72422e676738fc45431700fb7cbee56d0f825b623ee427b3e5ce58",
              "official SCRFD_500M_KPS ONNX export (reference outputs)", SCRFD_SOURCE),
    AssetSpec("scrfd/scrfd_2.5g_kps.onnx",
              "32d20c77b9e2dc1d07e94c2ab9d25bdd5cd05eddbe0b46e7b38e7a1eca22e99a",
              "SCRFD_2.5G_KPS ONNX export (distillation teacher)", SCRFD_SOURCE),
    AssetSpec("widerface/eval_tools/ground_truth/wider_face_val.mat",
              "1dfe6a9853950f9dde256b5e8bb75d8f272e6bc02a15ae1968f5a9b883f458cb",
              "WIDER FACE val ground truth", WIDER_SOURCE),
    AssetSpec("widerface/eval_tools/ground_truth/wider_easy_val.mat",
              "c2fb672d16f75653eb89fb8bc437a7d060896a71cd7a65c1a5a3e4479024099c",
              "WIDER FACE easy setting", WIDER_SOURCE),
    AssetSpec("widerface/eval_tools/ground_truth/wider_medium_val.mat",
              "4a031970bc132cef5cfacd05068aabcf4fe15d4a31a1e9f4f00eb134fdf449c1",
              "WIDER FACE medium setting", WIDER_SOURCE),
    AssetSpec("widerface/eval_tools/ground_truth/wider_hard_val.mat",
              "bb1af19dc5bc4dd9517dd8ae8096326c68175f2c3411763bdd4f23fa98638b78",
              "WIDER FACE hard setting", WIDER_SOURCE),
    AssetSpec("widerface/WIDER_val/images", None,
              "WIDER FACE val images (embedded: the 100-image mini set)", WIDER_SOURCE),
    AssetSpec("widerface/calib/images", None,
              "unlabelled calibration / training images, disjoint from the eval images",
              WIDER_SOURCE),
    AssetSpec("cifar10/test.zip",
              "c85d24bcf53f877447467edb08f30fc388d175fa00514667e43491e557f53606",
              "CIFAR-10 test split (JPEG copy)", CIFAR_SOURCE),
    AssetSpec("cifar10/train.zip",
              "7535619d681ecae959b6925f0fac250eda93d92f637e12d065098d49ceaebdd4",
              "CIFAR-10 train split (JPEG copy)", CIFAR_SOURCE),
    AssetSpec("cifar10/models/resnet20-12fca82f.th",
              "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8",
              "CIFAR-10 ResNet-20 weights", "the pytorch_resnet_cifar10 releases"),
    AssetSpec("cifar10/models/mlperf_tiny_resnet8.h5",
              "5f938a8eea605438cc7360aa13c987bc6d7bd0c8d931b2917361ae7ae4eeda2f",
              "MLPerf Tiny ResNet-8 (Keras)", "the MLPerf Tiny repository (training/image_classification)"),
]
MANIFEST: dict[str, AssetSpec] = {spec.relpath: spec for spec in _SPECS}

_VERIFIED: dict[tuple[str, int, int], str] = {}


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_once(path: Path, fix: str) -> str:
    """``sha256_of`` memoised per process (a file is re-hashed only when its size or mtime
    change); an unreadable file is an ``AssetCorrupt`` ending with ``fix``."""
    try:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in _VERIFIED:
            _VERIFIED[key] = sha256_of(path)
    except OSError as exc:
        raise AssetCorrupt(f"cannot read asset {path}: {exc}. {fix}") from exc
    return _VERIFIED[key]


def parse_overrides(items: list[str] | None, source: str = OVERRIDES_ENV) -> dict[str, Path]:
    """``["scrfd/SCRFD_500M_KPS.pth=/data/my.pth", ...]`` → mapping (from --asset / env).

    ``source`` names where the items came from (``Assets`` passes the environment variable's
    items with the default): a malformed override must name the option the user has to fix.
    """
    overrides = {}
    for item in items or []:
        relpath, sep, path = (part.strip() for part in item.partition("="))
        if not sep or not relpath or not path:
            separator = " (entries separated by ';')" if source == OVERRIDES_ENV else ""
            raise BadOption(f"{source}: asset override {item!r} must look like RELPATH=PATH"
                            f"{separator}, e.g. scrfd/SCRFD_500M_KPS.pth=/data/other.pth")
        overrides[relpath] = Path(path).expanduser().resolve()
    return overrides


class Assets:
    """A view of one assets folder; every accessor verifies before it hands out a path.

    ``overrides`` replace single files (e.g. other weights for the same architecture). They are
    not checksum-verified (there is no published checksum for them) but still must exist and
    load; their content hash still keys the artifact cache, so results never mix.
    """

    def __init__(self, root: str | Path | None = None, overrides: dict[str, Path] | None = None):
        self.root = resolve_assets_dir(root)
        if overrides is None:
            overrides = parse_overrides([x for x in os.environ.get(OVERRIDES_ENV, "").split(";") if x])
        self.overrides = overrides

    def __repr__(self) -> str:
        return f"Assets({str(self.root)!r})"

    def _spec(self, relpath: str) -> AssetSpec:
        return MANIFEST.get(relpath) or AssetSpec(relpath, None, relpath, "its publisher")

    def missing_message(self, relpath: str) -> str:
        spec = self._spec(relpath)
        return (f"asset not found: {self.root / relpath} ({spec.what}). Get it from {spec.source}, "
                f"or point compbench at a folder that has it with --assets DIR or {ASSETS_ENV}=DIR "
                f"(default ../shared/assets; layout in that folder's README.md).")

    def file(self, relpath: str) -> Path:
        """Path of a manifest file after checking existence and sha256 (memoised per process)."""
        if relpath in self.overrides:
            path = self.overrides[relpath]
            if not path.is_file():
                raise AssetMissing(f"asset override for {relpath} not found: {path}")
            return path
        path = self.root / relpath
        if not path.is_file():
            raise AssetMissing(self.missing_message(relpath))
        expected = self._spec(relpath).sha256
        if expected is None:
            return path
        actual = sha256_once(path, f"Check its permissions or get a fresh copy from "
                                   f"{self._spec(relpath).source}.")
        if actual != expected:
            raise AssetCorrupt(
                f"checksum mismatch for {path}: sha256 {actual[:16]}…, expected "
                f"{expected[:16]}… (the file is corrupt or not the published one). Replace it "
                f"with a fresh copy from {self._spec(relpath).source}.")
        return path

    def directory(self, relpath: str) -> Path:
        path = self.overrides.get(relpath, self.root / relpath)
        if not path.is_dir() or not any(path.iterdir()):
            raise AssetMissing(self.missing_message(relpath))
        if relpath in EMBEDDED_IMAGES:
            self._check_embedded_images(relpath, path)
        return path

    def _check_embedded_images(self, relpath: str, folder: Path) -> None:
        """Hold a folder of the embedded image set to its checksums (memoised per process).

        A folder holding only names of the embedded set is (a copy of part of) that set; one
        with other names too is another data set (the full WIDER release, whose originals differ
        from the rebuilt mini-set images under the same names) and only its JPEGs' end markers
        are checked, when read. The assets folder's own copy must also be complete: a missing
        image changes the AP as surely as a damaged one.
        """
        expected = EMBEDDED_IMAGES[relpath]
        present = {f"{image.parent.name}/{image.name}": image for image in folder.glob("*/*")
                   if image.suffix.lower() == ".jpg" and image.is_file()
                   and not image.name.startswith(".") and not image.parent.name.startswith(".")}
        if not present.keys() <= expected.keys():
            return
        intact = (f"an intact copy of the embedded assets folder (not from {WIDER_SOURCE}: "
                  f"most mini-set images are rebuilt, see the assets README)")
        fix = f"Replace it with the file of the same name from {intact}."
        missing = sorted(expected.keys() - present.keys())
        if missing and relpath not in self.overrides:
            raise AssetCorrupt(
                f"{folder} lacks {len(missing)} of the {len(expected)} embedded images (e.g. "
                f"{missing[0]}), as an interrupted copy would: its AP is not the mini set's. "
                f"Copy them from {intact}.")
        for name, image in sorted(present.items()):
            actual = sha256_once(image, fix)
            if actual != expected[name]:
                raise AssetCorrupt(
                    f"image {image} is damaged: sha256 {actual[:16]}…, expected "
                    f"{expected[name][:16]}… for the embedded {relpath}/{name} (a JPEG damaged "
                    f"in the middle still decodes, into wrong pixels that lower the AP). {fix}")

    def weights(self, ref: str) -> Path:
        """A model's weights: an asset relpath, or ``repo:<path>`` for weights trained and
        committed in this repository (a file or a save_pretrained folder). Overrides apply to
        both, so ``--asset repo:models/cifar/weights/vit_cifar10=/data/my-vit`` swaps a model."""
        if ref in self.overrides:
            path = self.overrides[ref]
            if not path.exists():
                raise AssetMissing(f"weights override for {ref} not found: {path}")
            return path
        if ref.startswith(REPO_PREFIX):
            path = REPO_ROOT / ref[len(REPO_PREFIX):]
            if not path.exists():
                raise AssetMissing(f"{path} not found: these weights are trained by this "
                                   "repository; see models/cifar/weights/README.md for the script "
                                   "that rebuilds them.")
            return path
        return self.file(ref)

    def weights_digest(self, ref: str) -> str:
        path = self.weights(ref)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        digest = hashlib.sha256()
        for file in files:
            digest.update(file.name.encode() + sha256_of(file).encode())
        return digest.hexdigest()

    def check_all(self) -> dict[str, str]:
        """Status of every manifest entry ('ok', or the error text) for ``compbench assets``."""
        status = {}
        for relpath, spec in MANIFEST.items():
            try:
                (self.file if spec.sha256 else self.directory)(relpath)
                status[relpath] = "ok"
            except (AssetMissing, AssetCorrupt) as exc:
                status[relpath] = str(exc)
        return status
