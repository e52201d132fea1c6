"Check a hand-written relevance template file: python3 check_templates.py FILE"
import json, re, sys, collections
FAMILIES = {"liquidity", "m_and_a", "legal_regulatory", "family_succession", "residence_tax", "philanthropy",
            "large_purchase", "business_distress", "leadership_change", "family_office_fund"}
KINDS = {"passing_mention", "quote_unrelated", "guest_list", "conference_speaker", "history", "company_market_story",
         "negated_or_denied", "other_person_event", "speculative_opinion"}
STYLES = {"wire", "broadsheet", "trade", "local", "translated"}
SLOTS = {"name", "surname", "title_surname", "he", "He", "his", "His", "him", "himself", "company", "company2", "city", "country"}
path = sys.argv[1]; ids = set(); fam = collections.Counter(); kind = collections.Counter(); style = collections.Counter(); errors = []
for n, line in enumerate(open(path, encoding="utf-8"), 1):
    if not line.strip(): continue
    try: t = json.loads(line)
    except json.JSONDecodeError as e: errors.append(f"line {n}: not JSON: {e}"); continue
    keys = {"id", "label", "event_type", "negative_kind", "style", "headline", "body"}
    if set(t) != keys: errors.append(f"line {n}: keys must be exactly {sorted(keys)}"); continue
    if t["id"] in ids: errors.append(f"line {n}: duplicate id")
    ids.add(t["id"])
    if t["label"] == 1:
        if t["event_type"] not in FAMILIES or t["negative_kind"] != "": errors.append(f"line {n}: positive needs a family and negative_kind ''")
        fam[t["event_type"]] += 1
    elif t["label"] == 0:
        if t["event_type"] != "none" or t["negative_kind"] not in KINDS: errors.append(f"line {n}: negative needs event_type 'none' and a kind")
        kind[t["negative_kind"]] += 1
    else: errors.append(f"line {n}: label must be 0 or 1")
    if t["style"] not in STYLES: errors.append(f"line {n}: style {t['style']!r}")
    style[t["style"]] += 1
    text = t["headline"] + "\n" + t["body"]
    used = set(re.findall(r"\{(\w+)\}", text))
    if used - SLOTS: errors.append(f"line {n}: unknown slots {sorted(used - SLOTS)}")
    if "name" not in used: errors.append(f"line {n}: {{name}} must appear at least once")
    if re.search(r"\{[^}]*$|^[^{]*\}", text.replace("{", "{").strip()) and text.count("{") != text.count("}"): errors.append(f"line {n}: unbalanced braces")
    words = len(t["body"].split())
    if not 35 <= words <= 180: errors.append(f"line {n}: body has {words} words (35-180)")
print("\n".join(errors[:50]) or "OK")
print("positives by family", dict(sorted(fam.items())))
print("negatives by kind", dict(sorted(kind.items())))
print("styles", dict(sorted(style.items())))
sys.exit(1 if errors else 0)
