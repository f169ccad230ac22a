#!/usr/bin/env python3
"""Regroup the npm package `chinese-days` (dist/years/YYYY.json, keyed by calendar year)
into one file per State Council notice year, in the holiday-cn layout that
workflows/src/calendar.rs reads.

Usage: python3 convert_chinese_days.py <extracted-package-dir> <first-year> <last-year> <out-dir>

A December day named 元旦 belongs to the NEXT year's notice: the New Year arrangement for
year Y+1 is published in the notice for Y+1 and may move late-December days of year Y.
"""
import datetime
import json
import os
import sys

pkg, first, last, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
version = json.load(open(os.path.join(pkg, "package.json")))["version"]
by_notice = {}
for cal_year in range(first - 1, last + 1):
    data = json.load(open(os.path.join(pkg, "dist", "years", f"{cal_year}.json")))
    for section, off in (("holidays", True), ("workdays", False)):
        for date, label in data[section].items():
            name = label.split(",")[1]
            d = datetime.date.fromisoformat(date)
            notice = d.year + 1 if (d.month == 12 and name == "元旦") else d.year
            if first <= notice <= last:
                by_notice.setdefault(notice, []).append((date, name, off))

for year in range(first, last + 1):
    days = sorted(by_notice[year])
    lines = [
        "{",
        f'  "year": {year},',
        f'  "source": "npm chinese-days {version} (dist/years), regrouped by notice year",',
        '  "days": [',
    ]
    for i, (date, name, off) in enumerate(days):
        comma = "," if i + 1 < len(days) else ""
        entry = {"date": date, "name": name, "isOffDay": off}
        lines.append("    " + json.dumps(entry, ensure_ascii=False) + comma)
    lines += ["  ]", "}", ""]
    with open(os.path.join(out, f"{year}.json"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
