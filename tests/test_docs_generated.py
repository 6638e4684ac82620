import subprocess
import sys

from conftest import REPO, glyph_env


def test_man_page_and_completions_match_the_cli():
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_docs.py"), "--check"], capture_output=True,
                          env=glyph_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
