"""Put the SBOM into a built wheel (PEP 770): `NAME-VERSION.dist-info/sboms/pyhotfix.cdx.json`,
its RECORD line, and a deterministic re-zip (`building.repack.rezip_wheel`), so the same inputs
still give a byte-identical wheel.

One function for every wheel pyhotfix publishes (built from the sdist, patched from upstream's
wheel, repaired by auditwheel): `add_sbom(wheel, inputs)`.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import zipfile
from pathlib import Path

from pyhotfix._atomic import open_atomic
from pyhotfix.building.repack import rezip_wheel
from pyhotfix.errors import BuildError
from pyhotfix.sbom.document import SBOM_NAME, SbomInputs, render_sbom

__all__ = ["add_sbom"]

_MAX_RECORD_BYTES = 64 << 20  # a RECORD line per file; no real wheel comes near


def add_sbom(wheel: Path, inputs: SbomInputs) -> Path:
    """Add (or replace) pyhotfix's SBOM in the wheel at `wheel`, in place; returns its path.

    Other SBOMs a backend put in `sboms/` are kept. The wheel is re-zipped with the times and
    modes `rezip_wheel` gives every built wheel (SOURCE_DATE_EPOCH), so its bytes depend only on
    its contents. BuildError when the file is not a wheel with one .dist-info directory.
    """
    document = render_sbom(inputs)
    try:
        with zipfile.ZipFile(wheel) as zin:
            info_dir = _dist_info(zin, wheel.name)
            record_name = f"{info_dir}/RECORD"
            sbom_name = f"{info_dir}/sboms/{SBOM_NAME}"
            record = _read_record(zin, record_name, wheel.name)
            with open_atomic(wheel, durable=False) as out, zipfile.ZipFile(out, "w") as zout:
                for item in zin.infolist():
                    if item.filename in (sbom_name, record_name):
                        continue
                    zout.writestr(item, zin.read(item))
                zout.writestr(sbom_name, document)
                zout.writestr(record_name, _with_line(record, record_name, sbom_name, document))
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise BuildError(
            f"Cannot add the SBOM to {wheel.name}: it is not a valid wheel ({exc})."
        ) from exc
    rezip_wheel(wheel, inputs.source_date_epoch)
    return wheel


def _dist_info(zin: zipfile.ZipFile, filename: str) -> str:
    tops = {i.filename.split("/", 1)[0] for i in zin.infolist() if "/" in i.filename}
    found = sorted(t for t in tops if t.endswith(".dist-info") and f"{t}/RECORD" in zin.NameToInfo)
    if len(found) != 1:
        raise BuildError(
            f"Cannot add the SBOM to {filename}: expected one .dist-info directory with a RECORD, "
            f"found {len(found)} ({', '.join(found) or 'none'})."
        )
    return found[0]


def _read_record(zin: zipfile.ZipFile, name: str, filename: str) -> str:
    info = zin.getinfo(name)
    if info.file_size > _MAX_RECORD_BYTES:
        raise BuildError(f"Cannot add the SBOM to {filename}: its RECORD is too large.")
    try:
        return zin.read(info).decode("utf-8")
    except UnicodeDecodeError:
        raise BuildError(f"Cannot add the SBOM to {filename}: its RECORD is not UTF-8.") from None


def _with_line(record: str, record_name: str, sbom_name: str, document: bytes) -> bytes:
    """RECORD with the SBOM's row (hash and size) before RECORD's own row, any old one replaced."""
    rows = [r for r in csv.reader(io.StringIO(record)) if r and r[0] != sbom_name]
    digest = base64.urlsafe_b64encode(hashlib.sha256(document).digest()).rstrip(b"=").decode()
    new_row = [sbom_name, f"sha256={digest}", str(len(document))]
    position = next((i for i, r in enumerate(rows) if r[0] == record_name), len(rows))
    rows.insert(position, new_row)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")
