"""The real-text fixture (tests/data/web_articles) and the synthetic client book (`uhnw.synth.client_book`)."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from uhnw.resolve import CLIENT_COLUMNS, Gazetteer, load_clients
from uhnw.synth import BOOK_LOCALES, NICKNAMES, TITLE_SURNAMES, client_book

DATA = Path(__file__).resolve().parent / "data"
ARTICLES = DATA / "web_articles" / "articles.jsonl"


@pytest.fixture(scope="module")
def articles() -> list[dict]:
    return [json.loads(line) for line in ARTICLES.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def book() -> pd.DataFrame:
    return client_book(5000, seed=1)


def _frame_sha1(df: pd.DataFrame) -> str:
    return hashlib.sha1(df.to_csv(index=False).encode()).hexdigest()


# --- the web articles fixture

def test_web_articles_are_over_100_real_pages_with_unique_ids_and_text(articles):
    assert len(articles) >= 100
    ids = [a["id"] for a in articles]
    assert len(set(ids)) == len(ids) and ids == sorted(ids)
    assert all(set(a) == {"id", "headline", "body", "url", "lang", "split"} for a in articles)
    assert all(a["body"].strip() for a in articles)
    assert sum(a["url"] is not None for a in articles) >= len(articles) // 2  # trafilatura found most pages' URL


def test_web_articles_cover_english_and_german(articles):
    langs = pd.Series([a["lang"] for a in articles]).value_counts()
    assert langs.get("de", 0) >= 30 and langs.get("en", 0) >= 20


def test_web_articles_split_half_dev_half_eval_within_each_language(articles):
    df = pd.DataFrame(articles)
    assert set(df.split) == {"dev", "eval"}
    per_lang = pd.crosstab(df.lang, df.split).reindex(columns=["dev", "eval"], fill_value=0)
    assert ((per_lang["dev"] - per_lang["eval"]).abs() <= 1).all(), per_lang
    assert abs((df.split == "dev").sum() - (df.split == "eval").sum()) <= 1


def test_web_articles_split_is_the_generators(articles):
    "The stored split is exactly what make_web_articles.assign_splits gives (no hand edits, no drift)."
    spec = importlib.util.spec_from_file_location("make_web_articles", DATA / "make_web_articles.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    fresh = [{k: a[k] for k in ("id", "lang")} for a in reversed(articles)]  # input order must not matter
    mod.assign_splits(fresh)
    assert {a["id"]: a["split"] for a in fresh} == {a["id"]: a["split"] for a in articles}


# --- the client book

def test_client_book_has_n_rows_unique_ids_and_a_name_each(book):
    assert len(book) == 5000
    assert tuple(book.columns) == CLIENT_COLUMNS
    assert book.client_id.is_unique and book.client_id.str.fullmatch(r"BOOK-\d{7}").all()
    assert (book.full_name.str.strip() != "").all()
    assert book.map(lambda v: isinstance(v, str)).all().all()  # strings, '' for empty, no NaN


def test_client_book_names_are_first_last_without_titles_and_romanized(book):
    tokens = book.full_name.str.split()
    assert (tokens.str.len() >= 2).all()
    assert not book.full_name.str.contains(r"\b(?:Dr|Prof|Mr|Mrs|Ms|Sir|PhD|MD|DDS|Jr|Sr|II|III)\b\.?").any()
    asian = book[book.country.isin(["CN", "JP", "KR"])]
    assert len(asian) >= 400 and asian.full_name.str.isascii().all() and asian.city.str.isascii().all()


def test_client_book_spans_the_cultures_with_their_currencies(book):
    assert book.country.nunique() >= 14
    expected = {loc[2]: loc[3] for loc in BOOK_LOCALES}
    assert (book.country.map(expected) == book.base_currency).all()
    assert 0.15 < (book.country == "US").mean() < 0.3  # the heaviest locale, at about its weight
    assert 100 <= book.rm_id.nunique() <= 400 and book.rm_id.str.fullmatch(r"RM-\d{3}").all()


def test_client_book_has_organizations_for_most_and_nicknames_for_a_few(book):
    assert 0.5 < (book.organizations != "").mean() < 0.7
    assert 0.03 < (book.aliases != "").mean() < 0.07
    with_alias = book[book.aliases != ""]
    for name, aliases in zip(with_alias.full_name, with_alias.aliases, strict=True):  # each alias keeps the surname
        assert all(a.split()[-1] in name.split() for a in aliases.split("|")), (name, aliases)
    bobs = with_alias[with_alias.full_name.str.split().str[0].isin(NICKNAMES)]
    assert len(bobs) >= 20
    for name, aliases in zip(bobs.full_name, bobs.aliases, strict=True):  # "Bob Smith|Rob Smith" for Robert Smith
        forms = [a.split(" ", 1) for a in aliases.split("|")]
        assert [nick for nick, _ in forms] == list(NICKNAMES[name.split()[0]]), (name, aliases)
        assert all(name.endswith(" " + surname) for _, surname in forms), (name, aliases)


def test_client_book_contains_the_hard_cases(book):
    last = book.full_name.str.split().str[-1]
    assert last.isin(TITLE_SURNAMES).sum() >= 50  # Harry King, Wendy Bishop: 1.5 % of 5000
    assert book.full_name.str.contains(r" (?:van|von|de|Al) [A-Z]").sum() >= 30  # van der Berg, von Arnim, Al Falasi
    cn = book[book.country == "CN"]
    assert cn.full_name.str.fullmatch(r"[A-Z][a-z]{1,2} [A-Z][a-z]{1,2}").sum() >= 50  # Du Tao, Li Na
    kr = book[book.country == "KR"]
    assert len(kr) >= 20 and kr.full_name.str.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+-[a-z]+").all()  # Kim Min-jun


def test_client_book_has_families_and_namesakes(book):
    fo = book[book.organizations.str.contains("Family Office")]
    fam = fo.groupby("organizations").agg(members=("full_name", "nunique"), rms=("rm_id", "nunique"), cities=("city", "nunique"))
    families = fam[fam.members >= 2]
    assert len(families) >= 10 and (families.rms == 1).sum() >= 10 and (families.cities == 1).sum() >= 10
    same_name = book[book.full_name.duplicated(keep=False)].groupby("full_name")
    assert (same_name.city.nunique() >= 2).sum() >= 20  # the same full name in different cities


def test_client_book_is_deterministic_and_follows_the_seed(book):
    assert client_book(5000, seed=1).equals(book)
    assert not client_book(5000, seed=2).full_name.equals(book.full_name)


def test_client_book_is_the_same_in_another_process_with_another_hash_seed():
    "Guards against set-ordered data (Faker's it_IT cities are): same seed, same book, whatever PYTHONHASHSEED is."
    code = "import hashlib; from uhnw.synth import client_book; " \
           "print(hashlib.sha1(client_book(2000, seed=3).to_csv(index=False).encode()).hexdigest())"
    out = {subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": h},
                          capture_output=True, text=True, check=True).stdout.strip() for h in ("1", "2")}
    assert out == {_frame_sha1(client_book(2000, seed=3))}


def test_client_book_appends_extra_clients_unchanged_within_n():
    extra = load_clients(DATA / "resolve" / "clients.csv")
    b = client_book(500, seed=0, extra=extra)
    assert len(b) == 500 and b.client_id.str.startswith("BOOK-").sum() == 500 - len(extra)
    pd.testing.assert_frame_equal(b.tail(len(extra)).reset_index(drop=True), extra)
    with pytest.raises(ValueError, match="smaller than"):
        client_book(len(extra) - 1, extra=extra)


def test_gazetteer_builds_from_a_client_book():
    b = client_book(2000)
    g = Gazetteer.from_clients(b)
    assert [c.client_id for c in g.clients] == b.client_id.tolist()
    assert len(g.patterns) >= len(b)  # at least the full name of every client
