"""Write a benchmark's section into benchmarks/README.md between its markers."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

README = Path(__file__).with_name("README.md")

HEADER = """# Benchmarks

Measured, not asserted: each script times the library on this project's own examples and
writes its section below, with the machine it ran on. These machines have 2 cores and are
shared and noisy, so compare the ratios within one run rather than absolute times.
"""


def machine() -> str:
    """CPU, cores and the library versions that matter."""
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import dsg_forecast

    versions = f"Python {platform.python_version()}, numpy {np.__version__}"
    try:
        import numba

        versions += f", numba {numba.__version__}"
    except ImportError:
        pass
    return f"{cpu}, {os.cpu_count()} cores; {versions}; dsg_forecast {dsg_forecast.__version__}"


def write_section(name: str, body: str) -> None:
    """Replace (or add) the section between ``<!-- name -->`` markers."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = README.read_text() if README.exists() else HEADER
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        before = text[: text.index(start)]
        after = text[text.index(end) + len(end) :]
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    partial = README.with_suffix(".md.tmp")  # never a half-written README
    partial.write_text(text)
    partial.replace(README)
