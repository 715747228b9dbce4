#!/usr/bin/env python3
"""Writes a scaled movies file, deterministically, from the real rows.

    bench/generate.py SOURCE TARGET SIZE

SOURCE is a real movies_metadata.csv (../shared/data/movies_metadata_head2996.csv);
TARGET gets its header and then copy after copy of its records, each copy's
ids offset by 1,000,000 so they stay unique, until TARGET holds at least SIZE
bytes (SIZE accepts K, M and G suffixes). The same SOURCE and SIZE always give
the same bytes. Records that are bad in SOURCE (its duplicate id, its dateless
releases) stay bad in every copy, so the quarantine scales too.
"""

import csv
import io
import sys


def parse_size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text[-1].upper() in units:
        return int(float(text[:-1]) * units[text[-1].upper()])
    return int(text)


def main():
    source, target, size = sys.argv[1], sys.argv[2], parse_size(sys.argv[3])
    with open(source, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        records = list(reader)
    id_column = header.index("id")
    line = io.StringIO()
    row_writer = csv.writer(line, lineterminator="\n")
    with open(target, "w", newline="", encoding="utf-8") as out:
        row_writer.writerow(header)
        written = len(line.getvalue().encode("utf-8"))
        out.write(line.getvalue())
        rows = 0
        copy = 0
        while written < size:
            for record in records:
                row = list(record)
                if row[id_column].isdigit():
                    row[id_column] = str(int(row[id_column]) + copy * 1_000_000)
                line.seek(0)
                line.truncate()
                row_writer.writerow(row)
                text = line.getvalue()
                out.write(text)
                written += len(text.encode("utf-8"))
                rows += 1
                if written >= size:
                    break
            copy += 1
    print(f"{target}: {rows} records ({copy} partial or whole copies of {len(records)}), {written} bytes")


if __name__ == "__main__":
    main()
