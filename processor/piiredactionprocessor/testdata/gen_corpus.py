#!/usr/bin/env python3
"""Turns corpus.txt (lines with «detector|text» markers) into corpus.jsonl with byte offsets.

Labels are checked independently of the Go scanner: card labels must pass Luhn, IBAN labels
mod-97, so a wrong label fails here rather than silently agreeing with the code under test.
Run from this directory: python3 gen_corpus.py
"""
import json, re, sys

MARK = re.compile(r"«([a-z0-9_]+)\|(.*?)»", re.DOTALL)

def luhn(s):
    d = [int(c) for c in s if c.isdigit()]
    t = 0
    for i, x in enumerate(reversed(d)):
        if i % 2 == 1:
            x *= 2
            if x > 9:
                x -= 9
        t += x
    return t % 10 == 0

def iban_ok(s):
    s = s.replace(" ", "")
    r = s[4:] + s[:4]
    n = "".join(str(int(c, 36)) for c in r)
    return int(n) % 97 == 1

out = []
for raw in open("corpus.txt", encoding="utf-8"):
    raw = raw.rstrip("\n")
    if not raw.strip() or raw.startswith("#"):
        continue
    raw = raw.replace("\\n", "\n")
    text, spans, pos = b"", [], 0
    for m in MARK.finditer(raw):
        text += raw[pos:m.start()].encode()
        det, val = m.group(1), m.group(2)
        if det == "credit_card" and not luhn(val):
            sys.exit(f"bad card label {val!r}")
        if det == "iban" and not iban_ok(val):
            sys.exit(f"bad iban label {val!r}")
        start = len(text)
        text += val.encode()
        spans.append({"start": start, "end": len(text), "detector": det})
        pos = m.end()
    text += raw[pos:].encode()
    out.append(json.dumps({"text": text.decode(), "spans": spans}, ensure_ascii=False))

with open("corpus.jsonl", "w", encoding="utf-8") as f:
    f.write("\n".join(out) + "\n")
print(len(out), "lines,", sum(l.count('"detector"') for l in out), "spans")
