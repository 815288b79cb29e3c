"""The adapter package is cheap to import: `modal` loads only when a backend method runs."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_adapters_does_not_import_modal():
    code = (
        "import sys, ollama_modal.adapters, ollama_modal.adapters.modal_backend as mb; "
        "mb.ModalBackend(environment='dev'); "
        "print(sorted(m for m in ('modal', 'grpclib', 'synchronicity') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
