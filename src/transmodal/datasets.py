"""Where the public data sets live, and the code that fetches them for users who don't have them.

The data root is ``$TRANSMODAL_DATA`` (default ``~/.cache/transmodal/data``). Tests and CI point it at
the offline copies in ``../shared/data``; a user without a copy gets the data downloaded from its
public source on first use (the only place transmodal touches the network).
"""

from __future__ import annotations

import os
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm


@dataclass(frozen=True)
class RemoteDataset:
    name: str
    files: dict[str, str]  # file name inside the data set's folder → URL
    licence: str


_TATOEBA = "https://raw.githubusercontent.com/Art31/pt_customized_transformer/master/data/"
DATASETS = {
    "tatoeba-en-pt": RemoteDataset(
        "tatoeba-en-pt",
        {f"{lang}_{split}.txt": _TATOEBA + f"{lang}_{split}.txt" for lang in ("eng", "port") for split in ("dev", "test")},
        "CC-BY 2.0 FR (Tatoeba sentences)",
    ),
}


def data_root() -> Path:
    return Path(os.environ.get("TRANSMODAL_DATA", Path.home() / ".cache" / "transmodal" / "data")).expanduser()


def dataset_dir(name: str, download: bool = True) -> Path:
    """Folder of data set ``name`` under the data root, downloading it first if it is missing."""
    folder = data_root() / name
    spec = DATASETS.get(name)
    missing = [] if spec is None else [f for f in spec.files if not (folder / f).is_file()]
    if spec is None and not folder.is_dir():
        raise FileNotFoundError(f"data set {name!r} not found at {folder}; set TRANSMODAL_DATA to the folder that holds it")
    if missing:
        if not download:
            raise FileNotFoundError(f"data set {name!r} is incomplete at {folder} (missing {missing}); set TRANSMODAL_DATA or allow download")
        _download(spec, folder, missing)
    return folder


def _download(spec: RemoteDataset, folder: Path, files: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for f in tqdm(files, desc=f"downloading {spec.name} ({spec.licence})", unit="file"):
        tmp = folder / (f + ".part")
        try:
            urllib.request.urlretrieve(spec.files[f], tmp)
        except OSError as e:
            raise RuntimeError(f"could not download {spec.files[f]}: {e}. Without network, set TRANSMODAL_DATA to a local copy.") from e
        tmp.replace(folder / f)


def load_fsdd(folder: Path) -> list[dict]:
    """Every ``{digit}_{speaker}_{index}.wav`` of the Free Spoken Digit Dataset under ``folder`` (or folder/recordings),
    sorted by name, as ``{"path", "text" (the digit's English word), "speaker", "index"}``."""
    from transmodal.audio.synth.texts import EN_DIGITS

    root = folder / "recordings" if (folder / "recordings").is_dir() else folder
    items = []
    for path in sorted(root.glob("*.wav")):
        parts = path.stem.split("_")
        if len(parts) != 3 or not parts[0].isdigit() or not 0 <= int(parts[0]) <= 9:
            raise ValueError(f"{path}: expected a FSDD name {{digit}}_{{speaker}}_{{index}}.wav")
        if not parts[2].isdigit():
            raise ValueError(f"{path}: expected a FSDD name {{digit}}_{{speaker}}_{{index}}.wav")
        items.append({"path": str(path), "text": EN_DIGITS[int(parts[0])], "speaker": parts[1], "index": int(parts[2])})
    if not items:
        raise FileNotFoundError(f"no WAV files in {root}; point --data at the FSDD folder under $TRANSMODAL_DATA")
    return items


_SPHINX_LINE = re.compile(r"^<s>\s*(.*?)\s*</s>\s*\((\S+)\)\s*$")


def load_read_speech(folder: Path) -> list[dict]:
    """The transcribed recordings of ``speech-en-real`` (one sub-folder per source and voice) as ``{"path", "text",
    "speaker"}``: ``metadata.csv`` (LJSpeech: ``id|text|normalised text``), pocketsphinx ``*.transcription`` /
    ``transcription`` lines (``<s> text </s> (id)``) and ``transcription.tsv`` (``file<TAB>text``). Texts are lower
    case letters, apostrophes and single spaces; recordings that are missing or not WAV/FLAC are left out."""
    items = []
    for sub in sorted(d for d in folder.iterdir() if d.is_dir()):
        pairs: list[tuple[str, str]] = []
        for f in sorted(sub.iterdir()):
            listed = f.suffix in (".csv", ".tsv", ".transcription") or f.name == "transcription"
            lines = f.read_text(encoding="utf-8").splitlines() if listed and f.is_file() else []
            for line in lines:
                if f.name == "metadata.csv" and line.count("|") >= 2:
                    name, _, text = line.split("|", 2)
                    pairs.append((name + ".wav", text.split("|")[-1]))
                elif (m := _SPHINX_LINE.match(line.strip())):
                    pairs.append((m.group(2) + ".wav", m.group(1)))
                elif f.suffix == ".tsv" and "\t" in line:
                    name, text = line.split("\t")[:2]
                    pairs.append((name, text))
        for name, text in pairs:
            path = sub / name
            clean = " ".join(re.sub(r"[^a-z' ]+", " ", text.lower()).split())
            if path.is_file() and path.suffix in (".wav", ".flac") and clean:
                items.append({"path": str(path), "text": clean, "speaker": sub.name})
    if not items:
        raise FileNotFoundError(f"no transcribed recordings under {folder}")
    return items
