"""Regenerate tests/data/web_articles/articles.jsonl from real web pages (deterministic).

Usage: `.venv/bin/python tests/data/make_web_articles.py [PAGES_DIR]` (default: the shared corpus of
trafilatura's test pages, ../shared/corpora/web_pages/pages beside the repository).

Each page is extracted with trafilatura (main text and metadata) and becomes one JSON line:
{"id", "headline", "body", "url", "lang", "split"}, sorted by id. Pages without extractable text are
skipped and named on stderr. The language is py3langid's guess on the first 1000 characters of
headline and body. The split is half "dev", half "eval", stratified by language: within a language
the pages are ordered by the SHA-1 of their id and alternate between the splits; a language with an
odd count gives its extra page to the split that is smaller so far, so the totals differ by at most one.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import py3langid
import trafilatura

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PAGES = REPO.parent / "shared" / "corpora" / "web_pages"
OUT = Path(__file__).resolve().parent / "web_articles"


def extract(path: Path) -> dict | None:
    "One page as an article dict without its split, or None when trafilatura finds no text."
    got = trafilatura.extract(path.read_bytes(), output_format="json", with_metadata=True)
    doc = json.loads(got) if got else {}
    body = (doc.get("text") or "").strip()
    if not body:
        return None
    headline = (doc.get("title") or "").strip()
    lang = py3langid.classify((headline + "\n" + body)[:1000])[0]
    return {"id": path.name.removesuffix(".html"), "headline": headline, "body": body,
            "url": doc.get("source") or None, "lang": lang}


def assign_splits(articles: list[dict]) -> None:
    "Set `split` to dev/eval: alternate within each language in SHA-1 order of the ids; odd leftovers balance the totals."
    by_lang = defaultdict(list)
    for a in articles:
        by_lang[a["lang"]].append(a)
    total = {"dev": 0, "eval": 0}
    for lang in sorted(by_lang):
        group = sorted(by_lang[lang], key=lambda a: hashlib.sha1(a["id"].encode()).hexdigest())
        first = "dev" if len(group) % 2 == 0 or total["dev"] <= total["eval"] else "eval"
        second = "eval" if first == "dev" else "dev"
        for i, a in enumerate(group):
            a["split"] = first if i % 2 == 0 else second
            total[a["split"]] += 1


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
