"""Regenerate the relevance seed set in jobs/seeds/relevance: `python tests/data/make_relevance_seed.py` (deterministic).

Writes clients.csv (the fictional client master the articles mention) and labels.jsonl: one
(article, client, label, event_type) pair per line. label 1: a wealth event the client's RM should
hear about now (the client is the subject); label 0: a passing mention, old news, someone else's
event, commentary. The templates were written by hand to read like wire copy, with hard cases on
both sides (historical deals, other people's events near the client's name, late reveals) and a
little label noise, so that a model cannot reach a perfect score by spotting one keyword.
"""
from __future__ import annotations

import csv
import hashlib
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parents[2] / "jobs" / "seeds" / "relevance"  # package data (uhnw.resources)

CLIENTS = [  # client_id, full_name, aliases, organizations, city, country, rm_id, currency
    ("UHNW-102", "Amit Saxena", "", "Saxena Logistics|Indus Freight", "Mumbai", "IN", "RM-07", "INR"),
    ("UHNW-103", "Helena Vogt", "", "Vogt Pharma", "Basel", "CH", "RM-02", "CHF"),
    ("UHNW-104", "Marcus Whitfield", "Marc Whitfield", "Whitfield Capital", "London", "GB", "RM-01", "GBP"),
    ("UHNW-105", "Li Wei Chen", "Chen Li Wei", "Harbourline Shipping", "Hong Kong", "HK", "RM-05", "HKD"),
    ("UHNW-106", "Sofia Marchetti", "", "Marchetti Moda", "Milan", "IT", "RM-03", "EUR"),
    ("UHNW-107", "Khalid Al-Mansouri", "Khalid Al Mansouri", "Mansouri Holdings", "Dubai", "AE", "RM-04", "AED"),
    ("UHNW-108", "Ingrid Halvorsen", "", "Nordfjord Seafood", "Bergen", "NO", "RM-02", "NOK"),
    ("UHNW-109", "Rafael Ortega", "", "Ortega Energia", "Madrid", "ES", "RM-03", "EUR"),
    ("UHNW-110", "Priya Raman", "", "Raman Software", "Bengaluru", "IN", "RM-07", "INR"),
    ("UHNW-111", "Jonathan Pryce-Evans", "Jon Pryce-Evans", "Pryce Evans Estates", "Cardiff", "GB", "RM-01", "GBP"),
    ("UHNW-112", "Yuki Tanabe", "", "Tanabe Robotics", "Osaka", "JP", "RM-05", "JPY"),
    ("UHNW-113", "Elena Petrovna Sokolova", "Elena Sokolova", "Sokol Metals", "Geneva", "CH", "RM-02", "CHF"),
    ("UHNW-114", "Daniel Okafor", "", "Okafor Telecom", "Lagos", "NG", "RM-06", "USD"),
    ("UHNW-115", "Claire Dubois-Laurent", "", "Maison Laurent", "Paris", "FR", "RM-03", "EUR"),
    ("UHNW-116", "Thomas Brenner", "Tom Brenner", "Brenner Bau", "Munich", "DE", "RM-02", "EUR"),
    ("UHNW-117", "Fatima Haddad", "", "Haddad Retail Group", "Beirut", "LB", "RM-04", "USD"),
    ("UHNW-118", "Robert Kallstrom", "Bob Kallstrom", "Kallstrom Ventures", "San Francisco", "US", "RM-08", "USD"),
    ("UHNW-119", "Ana Beatriz Costa", "Ana Costa", "Costa Agro", "Sao Paulo", "BR", "RM-06", "BRL"),
    ("UHNW-120", "Hiroshi Nakamura", "", "Nakamura Precision", "Nagoya", "JP", "RM-05", "JPY"),
    ("UHNW-121", "Olivia Hartley", "", "Hartley Media", "New York", "US", "RM-08", "USD"),
    ("UHNW-122", "Stefan Lindqvist", "", "Lindqvist Timber", "Stockholm", "SE", "RM-02", "SEK"),
    ("UHNW-123", "Meera Kapoor", "", "Kapoor Textiles", "Delhi", "IN", "RM-07", "INR"),
    ("UHNW-124", "George Antoniou", "", "Antoniou Maritime", "Piraeus", "GR", "RM-03", "EUR"),
    ("UHNW-125", "Catherine Ashworth", "Kate Ashworth", "Ashworth Brewing", "Manchester", "GB", "RM-01", "GBP"),
    ("UHNW-126", "Victor Almeida", "", "Almeida Construcoes", "Lisbon", "PT", "RM-03", "EUR"),
    ("UHNW-127", "Nadia Rahman", "", "Rahman Textiles", "Dhaka", "BD", "RM-04", "USD"),
    ("UHNW-128", "William Forsythe", "Bill Forsythe", "Forsythe Oil", "Houston", "US", "RM-08", "USD"),
    ("UHNW-129", "Zhang Mei", "Mei Zhang", "Jade River Foods", "Shanghai", "CN", "RM-05", "CNY"),
    ("UHNW-130", "Lukas Novak", "", "Novak Glassworks", "Prague", "CZ", "RM-02", "CZK"),
    ("UHNW-131", "Isabella Romano", "", "Romano Vini", "Florence", "IT", "RM-03", "EUR"),
    ("UHNW-132", "Omar Farouk", "", "Farouk Cement", "Cairo", "EG", "RM-04", "USD"),
    ("UHNW-133", "Grace Whitman", "", "Whitman Biotech", "Boston", "US", "RM-08", "USD"),
    ("UHNW-134", "Henrik Dahl", "", "Dahl Offshore", "Oslo", "NO", "RM-02", "NOK"),
    ("UHNW-135", "Arjun Mehta", "", "Mehta Steel", "Ahmedabad", "IN", "RM-07", "INR"),
    ("UHNW-136", "Charlotte Beaumont", "", "Beaumont Hotels", "Monaco", "MC", "RM-03", "EUR"),
    ("UHNW-137", "Samuel Adeyemi", "", "Adeyemi Capital", "Accra", "GH", "RM-06", "USD"),
]

COMPANIES = ["Northgate Partners", "Bluewater Capital", "Summit Equity", "Crestline Group", "Atlas Industrial",
             "Meridian Holdings", "Silverpine Fund", "Orion Infrastructure", "Kestrel Partners", "Harbor Point AG"]
OTHERS = ["Peter Lang", "Martina Ruiz", "Kenji Ota", "Laura Bennett", "Hassan Karimi", "Julia Weiss",
          "Adrian Cole", "Monica Serra", "Tariq Aziz Khan", "Emily Shaw", "Pavel Horak", "Irene Gallo"]
PLACES = ["Belgravia", "the Cote d'Azur", "Gstaad", "Lake Como", "the Hamptons", "Mayfair", "Dubai Hills", "Sentosa Cove"]
CAUSES = ["cancer research", "a new children's hospital", "climate science", "scholarships for engineering students",
          "the city's art museum", "malaria eradication"]

# {n}: client full name; {s}: surname (last token); {org}: client's first organization; {co}, {other}, {place},
# {cause}: fillers; {amt}: amount; {yr}: an old year.
POSITIVE = {
    "liquidity": [
        ("{n} to sell {pct}% stake in {org} in ${amt} block trade",
         "{n} is selling {pct} percent of {org} through an accelerated bookbuild, according to a term sheet seen by this publication. "
         "The placement, arranged by two banks, is expected to raise about ${amt} and is priced at a small discount to Tuesday's close. "
         "{s} will remain the largest shareholder after the sale and has agreed to a 180-day lock-up."),
        ("{org} files for IPO that could value founder {n}'s holding at ${amt}",
         "{org} filed for an initial public offering on Monday, a listing that would crystallise the fortune of founder {n}. "
         "{s}, who owns about {pct} percent of the company, plans to sell part of the stake in the offering. "
         "Bankers expect the shares to start trading next quarter."),
        ("{org} announces special dividend; {n} set to receive ${amt}",
         "The board of {org} declared a one-off special dividend after a record year. "
         "{n}, who controls the company through a family trust, is set to receive roughly ${amt} from the payout. "
         "Analysts said the distribution signals that the family is preparing for a larger capital event."),
        ("Founder's shares fall under the hammer as {org} stock slides",
         "Shares of {org} fell 6 percent after a regulatory filing showed a large block had changed hands overnight. "
         "The seller was later identified as {n}, the company's founder, who sold {pct} percent of the outstanding shares for about ${amt}. "  # noqa: E501
         "{s} did not respond to requests for comment."),
    ],
    "m_and_a": [
        ("{co} agrees to buy {n}'s {org} for ${amt}",
         "{co} has agreed to acquire {org} in a deal valuing the company at ${amt}, people familiar with the matter said. "
         "{n}, who built the business over three decades and owns a majority of it, will receive cash and shares. "
         "The takeover still needs approval from competition authorities."),
        ("{n} explores sale of {org}",
         "{n} has hired advisers to explore a sale of {org}, according to three people briefed on the plans. "
         "Private equity firms including {co} have been approached about a possible buyout. "
         "{s} could also opt for a merger with a listed rival, one of the people said."),
        ("{org} merger talks with {co} advance, {s} family to cash out",
         "Merger talks between {org} and {co} have reached an advanced stage. "
         "Under the proposed terms {n} and relatives would sell their combined {pct} percent holding. "
         "A deal could be announced as early as next week."),
    ],
    "legal_regulatory": [
        ("{n} sued by former partners over {org} deal",
         "Two former partners filed a lawsuit against {n} in the High Court on Thursday, alleging breach of fiduciary duty. "
         "The claim seeks damages of ${amt} in connection with the restructuring of {org}. "
         "Lawyers for {s} said the case was without merit and would be vigorously defended."),
        ("Prosecutors open probe into {n}'s dealings",
         "Prosecutors have opened an investigation into {n} over suspected tax fraud linked to offshore companies, two officials said. "
         "Investigators searched the offices of {org} on Wednesday. "
         "{s} has not been charged and denies wrongdoing."),
        ("{n} added to sanctions list; assets frozen",
         "Authorities added {n} to the sanctions list on Friday, freezing assets held in the jurisdiction. "
         "The designation cites {s}'s alleged role in financing a sanctioned network through {org}. "
         "Banks were instructed to report any accounts linked to the businessman."),
        ("Court orders {n} to pay ${amt} in arbitration award",
         "An arbitration tribunal ordered {n} to pay ${amt} to minority investors of {org}. "
         "The award follows a four-year dispute over the valuation of their shares. "
         "{s} can appeal the decision within thirty days."),
    ],
    "family_succession": [
        ("{n} steps down at {org}, hands control to next generation",
         "{n} will step down as chairman of {org} at the end of the year, the company said. "
         "Control of the family holding will pass to {s}'s two children under a succession plan agreed with the board. "
         "The transfer includes shares worth an estimated ${amt}."),
        ("{n} hospitalised; {org} says operations unaffected",
         "{n} was admitted to hospital in {city} on Sunday after suffering a stroke, according to a statement from {org}. "
         "The company said daily management was in the hands of the executive team. "
         "Questions over succession at the family-controlled group have weighed on its bonds."),
        ("Divorce settlement could split {n}'s ${amt} fortune",
         "{n} and spouse have filed for divorce, court records show, opening a battle over a fortune estimated at ${amt}. "
         "The couple did not sign a prenuptial agreement, according to people familiar with the case. "
         "A large part of {s}'s wealth is held in shares of {org}."),
        ("{n}, founder of {org}, dies at 81",
         "{n}, who founded {org} and built it into a regional champion, has died at the age of 81, the family said. "
         "The estate, including a controlling stake in the company, passes to a family trust. "
         "Tributes poured in from across {city}."),
    ],
    "philanthropy": [
        ("{n} pledges ${amt} to {cause}",
         "{n} has pledged ${amt} to {cause}, one of the largest private gifts of its kind. "
         "The donation will be paid over ten years through the {s} Family Foundation. "
         "{s} said the commitment was the start of a broader plan to give away most of the family's wealth."),
        ("{n} sets up foundation with ${amt} of {org} shares",
         "{n} has transferred shares of {org} worth ${amt} into a new charitable foundation. "
         "The foundation will focus on {cause}. "
         "The gift reduces {s}'s direct holding in the company below 30 percent."),
    ],
    "large_purchase": [
        ("{n} buys ${amt} mansion in {place}",
         "{n} has bought a mansion in {place} for about ${amt}, property records show, one of the most expensive homes sold there this year. "  # noqa: E501
         "The 14-bedroom estate was sold by an overseas investor. "
         "A representative for {s} confirmed the purchase."),
        ("{n} lists {place} estate for ${amt}",
         "{n} has put a waterfront estate in {place} on the market with an asking price of ${amt}. "
         "The property, bought a decade ago, includes a guest house and private mooring. "
         "Agents said the sale is part of a broader reshuffle of {s}'s real estate holdings."),
    ],
    "leadership_change": [
        ("{n} named chief executive of {co}",
         "{co} has appointed {n} as chief executive, effective next month. "
         "{s}, who previously led {org}, will receive a package that includes shares worth up to ${amt}. "
         "The appointment marks a return to an operating role for the entrepreneur."),
        ("{n} ousted as chair of {org} after board revolt",
         "The board of {org} voted to remove {n} as chair following a dispute over strategy. "
         "{s} retains a significant shareholding and is weighing legal options, a person close to the family said. "
         "An interim chair was named on Tuesday."),
    ],
}

NEGATIVE = [  # (event_type of the story, headline, body): the client is not the subject, or the news is not new
    ("other", "{co} posts higher quarterly profit",
     "{co} reported a 12 percent rise in quarterly profit, helped by strong demand in Asia. "
     "The results were in line with analysts' forecasts. "
     "Board members including {n} attended the annual meeting in {city}, where shareholders approved the dividend."),
    ("philanthropy", "{other} pledges ${amt} to {cause} at charity gala",
     "{other} pledged ${amt} to {cause} at a gala dinner in {city} on Saturday. "
     "Guests included {n}, the chief executive of a local bank and several cabinet ministers. "
     "The evening raised a further $2 million from an auction."),
    ("other", "Markets: investors brace for rate decision",
     "Stocks edged lower as investors awaited the central bank's rate decision. "
     "\"Rates will stay higher for longer,\" said {n}, chairman of {org}, speaking at an industry conference. "
     "Bond yields rose for a third day."),
    ("liquidity", "{org} at 40: how a family firm became a giant",
     "When {n} founded {org} four decades ago it had six employees. "
     "{s} sold a minority stake to a private equity firm back in {yr}, a deal that funded the company's expansion abroad. "
     "Today the group employs 12,000 people and exports to 60 countries."),
    ("m_and_a", "{co} completes acquisition of {other}'s logistics unit",
     "{co} said it had completed the acquisition of a logistics business from {other} for ${amt}. "
     "The deal was first announced in March. "
     "Competitors such as {org}, controlled by {n}, are expected to respond with price cuts."),
    ("other", "Art fair draws collectors to {city}",
     "The art fair opened in {city} with strong early sales of contemporary works. "
     "Collectors spotted at the preview included {n} and the fashion designer {other}. "
     "Organisers said attendance was the highest since the pandemic."),
    ("other", "Sailing: {s}'s yacht finishes third in regatta",
     "The yacht owned by {n} finished third in the annual regatta off {place} after a tight final race. "
     "The winning boat was skippered by {other}. "
     "Strong winds forced organisers to shorten the course on the second day."),
    ("large_purchase", "Prime property prices in {place} hit record",
     "Prime residential prices in {place} rose 9 percent last year, according to an estate agency report. "
     "Buyers from the Gulf and Asia accounted for a third of sales. "
     "Residents of the area include {n}, who bought a home there in {yr}."),
    ("legal_regulatory", "{other} charged with fraud over collapsed fund",
     "Prosecutors charged {other} with fraud on Monday over the collapse of an investment fund that lost ${amt} of client money. "
     "The indictment names several investors who lost money, among them {n}. "
     "{other} faces up to 20 years in prison if convicted."),
    ("leadership_change", "{co} appoints {other} as chief financial officer",
     "{co} named {other} as chief financial officer, replacing an executive who retired in June. "
     "{other} previously worked alongside {n} at {org}. "
     "The company's shares were little changed."),
    ("other", "Interview: {n} on books, travel and family",
     "{n} spends summers in {place} and reads two novels a week. "
     "In a wide-ranging interview {s} talked about a love of opera and long walks. "
     "\"I have been lucky,\" {s} said, declining to discuss business."),
    ("other", "{city} business awards honour local entrepreneurs",
     "The annual business awards in {city} honoured entrepreneurs in technology, retail and manufacturing. "
     "Previous winners, including {n} of {org}, presented the prizes. "
     "The event raised money for a local school."),
    ("family_succession", "{other} names son as successor at {co}",
     "{other} has named his son as successor at {co}, ending months of speculation. "
     "The handover will take place next year. "
     "Industry peers such as {n} have faced similar succession questions."),
    ("m_and_a", "Dealmaking slows in third quarter",
     "Global mergers and acquisitions fell 15 percent in the third quarter as higher rates cooled buyout activity. "
     "Bankers pointed to a handful of large deals, including {co}'s purchase of a software group. "
     "{n}, a veteran dealmaker, told a conference that valuations remained too high."),
]

HARD_POSITIVE_LATE = [  # the subject is revealed late in the body
    ("large_purchase", "Record price paid for penthouse in {place}",
     "A penthouse in {place} has sold for ${amt}, a record for the area. "
     "The apartment spans two floors and has a rooftop pool. "
     "The buyer was identified in land registry filings as {n}."),
    ("liquidity", "{org} shareholder sells shares worth ${amt}",
     "A major shareholder of {org} sold shares worth ${amt} this week, according to exchange filings. "
     "The filings show the seller was {n}, who founded the company. "
     "The stake sale cuts the family's holding to {pct} percent."),
]


def article_id(headline: str, body: str) -> str:
    return "seed-" + hashlib.sha256(f"{headline}\n{body}".encode()).hexdigest()[:16]


def fillers(client, rng: random.Random) -> dict:
    "One set of names and numbers for one article (headline and body agree)."
    cid, name, aliases, orgs, city, country, rm, cur = client
    return dict(n=name, s=name.split()[-1], org=orgs.split("|")[0], co=rng.choice(COMPANIES),
                other=rng.choice(OTHERS), place=rng.choice(PLACES), cause=rng.choice(CAUSES), city=city,
                amt=f"{rng.choice([120, 250, 340, 480, 600, 750, 900])} million" if rng.random() < .8 else f"{rng.choice([1.2, 1.8, 2.5, 3.1])} billion",  # noqa: E501
                pct=rng.choice([3, 5, 8, 12, 15, 22]), yr=rng.choice([1998, 2004, 2009, 2013]))


def build(seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    rows, seen = [], set()
    def add(client, et, h, b, label, kind):
        f = fillers(client, rng)
        head, body = h.format(**f), b.format(**f)
        aid = article_id(head, body)
        if (aid, client[0]) in seen: return
        seen.add((aid, client[0]))
        if rng.random() < 0.03: label = 1 - label  # label noise: people disagree on borderline stories
        rows.append({"article_id": aid, "client_id": client[0], "headline": head, "body": body, "label": label,
                     "event_type": et if label else "other", "story_type": et, "kind": kind})
    for client in CLIENTS:
        for et, templates in POSITIVE.items():
            for h, b in rng.sample(templates, k=1):
                add(client, et, h, b, 1, "subject")
        for et, h, b in rng.sample(NEGATIVE, k=9):
            add(client, et, h, b, 0, "passing")
        if rng.random() < 0.5:
            et, h, b = rng.choice(HARD_POSITIVE_LATE)
            add(client, et, h, b, 1, "late_reveal")
    rng.shuffle(rows)
    return rows


if __name__ == "__main__":
    with open(HERE / "clients.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["client_id", "full_name", "aliases", "organizations", "city", "country", "rm_id", "base_currency"])
        w.writerows(CLIENTS)
    rows = build()
    with open(HERE / "labels.jsonl", "w") as f:
        for r in rows: f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} pairs, {sum(r['label'] for r in rows)} positive, {len(CLIENTS)} clients")
