"""Check the locked dependencies against known vulnerabilities (`make audit`).

    python scripts/audit_dependencies.py [requirements.lock]

pip-audit asks PyPI's vulnerability API about each pinned version. Some registry mirrors
and proxies do not serve those per-version pages (this project's CI machines are behind
one). There, no package can be audited that way, so each package skipped is looked up on
PyPI's project page instead (`https://pypi.org/pypi/<name>/json`).
- That page lists the vulnerabilities of the project's latest release only.
- So it audits the packages pinned at their latest release.
- Every other package is named as not audited, with its pin and the latest release.

Exit status 1 when either finds a known vulnerability in a locked package, or when
pip-audit itself fails. When no package could be audited either way, it says so loudly
and exits 0, so that a missing network does not stop the tests. `AUDIT_STRICT=true` makes
that case fail too.
"""

import json
import os
import re
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BIN = Path(sys.executable).parent
PYPI_JSON = os.environ.get("AUDIT_PYPI_JSON_URL", "https://pypi.org/pypi")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def main(lock: str) -> int:
    command = [
        str(BIN / "pip-audit"),
        "--requirement",
        lock,
        "--require-hashes",
        "--disable-pip",  # the lock pins every package with hashes: nothing to resolve
        "--progress-spinner",
        "off",
        "--format",
        "json",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        sys.stderr.write(f"audit: pip-audit failed (exit {result.returncode}):\n{result.stderr}")
        return 1

    dependencies = report["dependencies"]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    audited = [d for d in dependencies if not d.get("skip_reason")]
    vulnerable = [d for d in audited if d.get("vulns")]
    _report(vulnerable)
    print(
        f"audit: pip-audit checked {len(audited)} of {len(dependencies)} locked packages "
        f"in {lock}: {len(vulnerable)} with known vulnerabilities"
    )

    latest_audited, latest_vulnerable, not_audited = [], [], []
    if skipped:
        pins = dict(PIN.findall(Path(lock).read_text()))
        pins = {_normal(name): version for name, version in pins.items()}
        found = latest_release_audit(
            {_normal(d["name"]): pins.get(_normal(d["name"])) for d in skipped}
        )
        latest_audited = [d for d in found if d.get("vulns") is not None]
        latest_vulnerable = [d for d in latest_audited if d["vulns"]]
        not_audited = [d for d in found if d.get("vulns") is None]
        _report(latest_vulnerable)
        print(
            f"audit: PyPI's project pages checked {len(latest_audited)} of the {len(skipped)} "
            f"packages pip-audit could not (those pinned at their latest release): "
            f"{len(latest_vulnerable)} with known vulnerabilities"
        )
        for dependency in not_audited:
            print(
                f"audit: not audited: {dependency['name']} {dependency['version']}: "
                f"{dependency['reason']}",
                file=sys.stderr,
            )

    if vulnerable or latest_vulnerable:
        return 1
    if skipped and not audited and not latest_audited:
        print(
            "audit: WARNING: no package could be audited: PyPI's vulnerability API did not "
            f"answer from this machine ({skipped[0]['skip_reason']})",
            file=sys.stderr,
        )
        return 1 if os.environ.get("AUDIT_STRICT", "").lower() in {"1", "true", "yes"} else 0
    return 0


def _normal(name: str) -> str:
    """A package name as PyPI compares names (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _report(vulnerable: list[dict]) -> None:
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            aliases = ", ".join(vuln.get("aliases") or [])
            print(
                f"audit: {dependency['name']} {dependency['version']}: {vuln['id']}"
                f"{f' ({aliases})' if aliases else ''}; fixed in {fixes}"
            )


def project_json(name: str) -> dict:
    """PyPI's project page for `name` (its latest release, and that release's known
    vulnerabilities)."""
    with urllib.request.urlopen(f"{PYPI_JSON}/{name}/json", timeout=20) as answer:  # noqa: S310 - fixed https URL
        return json.load(answer)


def latest_release_audit(pins: dict[str, str | None]) -> list[dict]:
    """For each package and its pinned version, the known vulnerabilities when the pin is
    the project's latest release (`vulns`, a list), else `vulns` None and the reason."""

    def one(item) -> dict:
        name, version = item
        found = {"name": name, "version": version or "?", "vulns": None}
        if version is None:
            return {**found, "reason": "no pin for it in the lock file"}
        try:
            page = project_json(name)
        except (OSError, ValueError) as exc:
            return {**found, "reason": f"PyPI's project page did not answer ({exc})"}
        latest = page.get("info", {}).get("version")
        if latest != version:
            return {
                **found,
                "reason": f"the latest release is {latest}, and PyPI's project page lists "
                "the vulnerabilities of the latest release only",
            }
        vulns = [
            {
                "id": vuln.get("id", "?"),
                "aliases": vuln.get("aliases") or [],
                "fix_versions": vuln.get("fixed_in") or [],
            }
            for vuln in page.get("vulnerabilities") or []
            if not vuln.get("withdrawn")
        ]
        return {**found, "vulns": vulns}

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, sorted(pins.items())))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "requirements.lock"))
