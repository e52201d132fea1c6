"""Regenerate tests/data/web_articles/articles.jsonl from real web pages (deterministic).

Usage: `.venv/bin/python tests/data/make_web_articles.py [PAGES_DIR]` (default: the shared corpus of
trafilatura's test pages, ../shared/corpora/web_pages/pages beside the repository).

Each page is extracted with trafilatura (main text and metadata) and becomes one JSON line:
{"id", "headline", "body", "url", "lang", "split"}, sorted by id. Pages without extractable text are
skipped and named on stderr. The language is `uhnw.language.detect_language` (py3langid) on the first
1000 characters of headline and body; extraction and split are `uhnw.bench.precision`'s, as
`uhnw eval precision` does them on a folder of pages. The split is half "dev", half "eval", stratified
by language: within a language
the pages are ordered by the SHA-1 of their id and alternate between the splits; a language with an
odd count gives its extra page to the split that is smaller so far, so the totals differ by at most one.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from uhnw.bench.precision import assign_splits
from uhnw.bench.precision import extract_page as extract

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PAGES = REPO.parent / "shared" / "corpora" / "web_pages"
OUT = Path(__file__).resolve().parent / "web_articles"


def main(pages_dir: Path = DEFAULT_PAGES) -> list[dict]:
    "Extract every page of `pages_dir` (or its `pages/` folder), write articles.jsonl, LICENSE; returns the articles."
    html_dir = pages_dir / "pages" if (pages_dir / "pages").is_dir() else pages_dir
    paths = sorted(html_dir.glob("*.html"))
    if not paths:
        sys.exit(f"no .html pages in {html_dir}")
    articles = []
    for p in paths:
        a = extract(p)
        if a is None:
            print(f"skipped {p.name}: trafilatura found no text", file=sys.stderr)
        else:
            articles.append(a)
    assign_splits(articles)
    articles.sort(key=lambda a: a["id"])
    OUT.mkdir(exist_ok=True)
    with open(OUT / "articles.jsonl", "w", encoding="utf-8") as f:
        for a in articles:
            f.write(json.dumps({k: a[k] for k in ("id", "headline", "body", "url", "lang", "split")}, ensure_ascii=False) + "\n")
    if (pages_dir / "LICENSE").exists():
        shutil.copyfile(pages_dir / "LICENSE", OUT / "LICENSE")
    print(f"{len(articles)} of {len(paths)} pages -> {OUT / 'articles.jsonl'}", file=sys.stderr)
    return articles


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PAGES)
