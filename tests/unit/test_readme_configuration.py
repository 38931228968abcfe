"""README.md's configuration table documents exactly the environment variables the service reads."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAME = r"[A-Z][A-Z0-9_]*"
PYTHON_READS = [
    re.compile(rf"""(?:os\.environ\.get|os\.getenv|env_\w+)\(\s*["']({NAME})["']"""),
    re.compile(rf"""os\.environ\[\s*["']({NAME})["']\s*\](?!\s*=[^=])"""),
]
# Read by a library on the service's behalf, named in no call of ours.
IMPLICIT_READS = {"dj_database_url.config(": "DATABASE_URL"}
SHELL_READ = re.compile(rf"\$\{{({NAME}):?[-=]")
SERVICE_SCRIPTS = ["scripts/run"]  # what make run reads; the test scripts' own variables are not the service's


def documented() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(rf"`({NAME})`", row.split("|")[1])}


def read_by_the_code() -> dict[str, set[str]]:
    """Each variable read, with the files reading it."""
    found: dict[str, set[str]] = {}
    sources = [p for folder in ("containersvc", "dashboard") for p in (ROOT / folder).rglob("*.py")]
    for path in sources:
        text = path.read_text()
        names = {name for pattern in PYTHON_READS for name in pattern.findall(text)}
        names |= {name for call, name in IMPLICIT_READS.items() if call in text}
        for name in names:
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    for script in SERVICE_SCRIPTS:
        for name in SHELL_READ.findall((ROOT / script).read_text()):
            found.setdefault(name, set()).add(script)
    return found


def test_the_readme_parses_into_names():
    assert {"DATABASE_URL", "CONTAINERSVC_DATA_DIR", "SECRET_KEY", "CONTAINERSVC_HTTPS"} <= documented()


def test_every_variable_read_is_documented():
    undocumented = sorted(
        f"{name} ({', '.join(sorted(files))})" for name, files in read_by_the_code().items() if name not in documented()
    )

    assert not undocumented, "add to README.md's configuration table: " + "; ".join(undocumented)


def test_every_variable_documented_is_read():
    unread = documented() - set(read_by_the_code())

    assert not unread, f"README.md documents variables nothing reads: {sorted(unread)}"
