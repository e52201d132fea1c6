"""Fill the hand-written relevance templates into the training set jobs/seeds/relevance_v3/{clients.csv,labels.jsonl}.

    python tests/data/make_relevance_v3.py [--seed 20261202] [--fills 8]

The templates (`jobs/seeds/relevance_v3/templates/hand_*.jsonl`) were written article by article by nine separate
authors ("hands", in two rounds), each with its own house style, from the taxonomy alone: none of them saw the evaluation set, the
other training sets, the model or another hand's file. Each template is one article with slots for the client
({name}, {surname}, {title_surname}, pronouns, {company}, {company2}, {city}, {country}); this script fills every
template for `--fills` different fictional clients (pair ids `<template id>#<fill>`, so that `uhnw.relevance.label_group`
keeps a text's fills on one side of every split) (names from the v2 generator's name banks, a different seed and
`HND-` ids, so the books never collide). Standard library only; byte-identical output for a given seed.
"""
from __future__ import annotations

import argparse
import collections
import csv
import importlib.util
import json
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "jobs" / "seeds" / "relevance_v3"
SLOT = re.compile(r"\{(\w+)\}")
PRONOUNS = {"male": {"he": "he", "He": "He", "his": "his", "His": "His", "him": "him", "himself": "himself"},
            "female": {"he": "she", "He": "She", "his": "her", "His": "Her", "him": "her", "himself": "herself"}}


def _v2_generator():
    "The v2 training generator, imported for its name banks and `make_people` (nothing else of it is used)."
    spec = importlib.util.spec_from_file_location("make_relevance_train", Path(__file__).with_name("make_relevance_train.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is built
    spec.loader.exec_module(mod)
    return mod


def read_templates(folder: Path) -> list[dict]:
    "Every template of every hand, in file order, with its `hand` (the file's stem)."
    out = []
    for f in sorted(folder.glob("hand_*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append({**json.loads(line), "hand": f.stem})
    return out


def fill(text: str, person) -> str:
    "A template's text with the client's slots filled."
    values = {"name": person.full, "surname": person.surname, "title_surname": f"{person.title} {person.surname}",
              "company": person.org, "company2": person.org2, "city": person.city,
              "country": COUNTRY_NAMES.get(person.country, person.country),
              **PRONOUNS[person.gender]}
    return SLOT.sub(lambda m: values[m.group(1)], text)


COUNTRY_NAMES = {"US": "the United States", "GB": "Britain", "DE": "Germany", "FR": "France", "IT": "Italy", "ES": "Spain",
                 "MX": "Mexico", "IN": "India", "AE": "the United Arab Emirates", "SA": "Saudi Arabia", "QA": "Qatar",
                 "LB": "Lebanon", "CN": "China", "HK": "Hong Kong", "SG": "Singapore", "JP": "Japan", "KR": "South Korea",
                 "NG": "Nigeria", "BR": "Brazil", "SE": "Sweden", "NO": "Norway", "DK": "Denmark", "FI": "Finland",
                 "CH": "Switzerland", "AT": "Austria", "AR": "Argentina", "CO": "Colombia", "CL": "Chile", "KW": "Kuwait",
                 "AU": "Australia", "BE": "Belgium", "CA": "Canada", "EG": "Egypt", "MC": "Monaco", "TW": "Taiwan"}


def build(seed: int, fills: int) -> tuple[list, list[dict]]:
    gen = _v2_generator()
    rng = random.Random(seed)
    clients, _ = gen.make_people(rng)
    for i, c in enumerate(clients, 1):
        c.cid = f"HND-{i:04d}"
    rows = []
    for t in read_templates(OUT / "templates"):
        for k, c in enumerate(rng.sample(clients, fills)):
            rows.append({"article_id": f"{t['id']}#{k + 1}", "client_id": c.cid, "headline": fill(t["headline"], c),
                         "body": fill(t["body"], c), "label": int(t["label"]),
                         "event_type": t["event_type"] if t["label"] else "other", "negative_kind": t["negative_kind"],
                         "style": t["style"], "hand": t["hand"], "template_id": t["id"]})
    return clients, rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20261202)
    ap.add_argument("--fills", type=int, default=8, help="clients each template is filled for")
    a = ap.parse_args(argv)
    clients, rows = build(a.seed, a.fills)
    used = {r["client_id"] for r in rows}
    with open(OUT / "clients.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["client_id", "full_name", "aliases", "organizations", "city", "country"])
        for c in clients:
            if c.cid in used:
                w.writerow([c.cid, c.full, "|".join(c.aliases), f"{c.org}|{c.org2}", c.city, c.country])
    with open(OUT / "labels.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    by = collections.Counter((r["hand"], r["label"]) for r in rows)
    print(f"{len(rows)} pairs from {len(rows) // a.fills} templates, {len(used)} clients; by (hand, label): {dict(sorted(by.items()))}")


if __name__ == "__main__":
    main()
