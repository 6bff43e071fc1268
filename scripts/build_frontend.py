"""Copy the compiled GOV.UK Frontend and MOJ Frontend assets into static/vendor/.

Run after `npm ci`; plain Python 3, no Django, so it works before the app is set up.
static/vendor/ is generated (and gitignored): this script empties and refills it,
so running it twice gives the same result.

Layout, served by Django under STATIC_URL (/static/):

    static/vendor/govuk/govuk-frontend.min.css, .min.js (+ source maps)
    static/vendor/govuk/assets/fonts/, images/, manifest.json
    static/vendor/moj/moj-frontend.min.css, .min.js (+ source maps)
    static/vendor/moj/assets/images/

Both compiled style sheets point at their fonts and images with root-absolute URLs
(`url(/assets/...)`, from Sass's default `$govuk-assets-path`), which would miss
/static/. The copies get them rewritten to `url(assets/...)`: relative to the style
sheet, so they resolve to /static/vendor/<package>/assets/... under any STATIC_URL
and Django's hashed-name storage can rewrite them too. The build fails if a style
sheet names an asset it did not copy.
"""

import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "static" / "vendor"

# package directory in node_modules, folder holding the build, target under static/vendor/,
# and the files to copy from that folder (the assets/ folder is copied whole).
PACKAGES = (
    (
        "govuk-frontend",
        "dist/govuk",
        "govuk",
        (
            "govuk-frontend.min.css",
            "govuk-frontend.min.css.map",
            "govuk-frontend.min.js",
            "govuk-frontend.min.js.map",
        ),
    ),
    (
        "@ministryofjustice/frontend",
        "moj",
        "moj",
        (
            "moj-frontend.min.css",
            "moj-frontend.min.css.map",
            "moj-frontend.min.js",
            "moj-frontend.min.js.map",
        ),
    ),
)

# url(/assets/...), with or without quotes.
ABSOLUTE_ASSET_URL = re.compile(r"""url\((["']?)/assets/""")
ASSET_URL = re.compile(r"""url\((["']?)(assets/[^"')?#]+)""")


def fail(message: str) -> None:
    sys.stderr.write(f"build_frontend: {message}\n")
    raise SystemExit(1)


def package_version(package: str) -> str:
    return json.loads((NODE_MODULES / package / "package.json").read_text(encoding="utf-8"))[
        "version"
    ]


def rewrite_css(css_path: Path) -> int:
    """Point the style sheet's asset URLs at the copied assets/ beside it; return how many."""
    css = css_path.read_text(encoding="utf-8")
    css, count = ABSOLUTE_ASSET_URL.subn(r"url(\1assets/", css)
    missing = sorted(
        {
            m.group(2)
            for m in ASSET_URL.finditer(css)
            if not (css_path.parent / m.group(2)).is_file()
        }
    )
    if missing:
        fail(
            f"{css_path.relative_to(ROOT)} refers to assets that were not copied: {', '.join(missing)}"
        )
    css_path.write_text(css, encoding="utf-8")
    return count


def build() -> None:
    if not NODE_MODULES.is_dir():
        fail("node_modules/ is missing: run npm ci first")
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    for package, build_dir, target_name, files in PACKAGES:
        source = NODE_MODULES / package / build_dir
        if not source.is_dir():
            fail(f"{source.relative_to(ROOT)} is missing: run npm ci first")
        target = VENDOR / target_name
        target.mkdir(parents=True)
        for name in files:
            if not (source / name).is_file():
                fail(
                    f"{(source / name).relative_to(ROOT)} is missing: is the installed version the one in package.json?"
                )
            shutil.copy2(source / name, target / name)
        shutil.copytree(source / "assets", target / "assets")
        rewritten = sum(rewrite_css(css) for css in target.glob("*.css"))
        print(
            f"build_frontend: {package} {package_version(package)} -> "
            f"{target.relative_to(ROOT)}/ ({rewritten} asset URLs made relative)"
        )


if __name__ == "__main__":
    build()
