#!/usr/bin/env python3
"""Checks what `unetrun --infer --png_dir --report` wrote, from the data alone.

Everything is recomputed here with numpy from imgs_/msks_test.npy and msks_test_predictions.npy
(not from anything unetrun computed): the per-slice and per-subject soft Dice, which slices are
the best, median and worst, every overlay pixel outside the label box, the report's table, its
embedded images and its SVG charts. Prints one JSON object (what each overlay's corner label
must read, so the C++ test can read the labels back with the font); exits 1 naming the first
thing that is wrong.

Usage: check_report.py --data DIR --pred FILE [--png-dir DIR] [--report FILE] [--log FILE]
                       [--subject ID] [--smooth S] [--size N] [--curve-points N]
"""
import argparse
import base64
import html.parser
import io
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

import numpy as np
import png

FLAIR = 2
WHOLE_TUMOUR = (1, 2, 3)  # --mode 1: labels 1, 2 and 4
OUTLINE = (0, 255, 0)
FILL = (255, 32, 32)
ALPHA = 0.45
STEP_LINE = re.compile(r"Epoch \d+/\d+, ETE: \d+ s, Batch: \d+/\d+, Loss: \S+, Dice: \S+, "
                       r"Global Step: \d+, Learn rate: \S+$")


class Failure(Exception):
    pass


def need(ok, what):
    if not ok:
        raise Failure(what)


def soft_dice(p, t, smooth):
    return (2 * float(np.sum(p * t)) + smooth) / (float(np.sum(p)) + float(np.sum(t)) + smooth)


def decode_png(data, what):
    try:
        w, h, rows, info = png.Reader(bytes=data).read_flat()
    except Exception as e:  # any decoder complaint is the failure
        raise Failure(f"{what}: not a PNG python3-png can read: {e}")
    need(info["planes"] == 3 and not info["alpha"] and not info["greyscale"] and info["bitdepth"] == 8,
         f"{what}: not 8-bit RGB: {info}")
    return np.array(rows, dtype=np.int32).reshape(h, w, 3)


def label_box(rgb):
    """The label's text scale and box: the text starts at (pad, pad) with pad = scale, and the
    first glyph, 'D', has its top-left pixel set; so the scale is where the diagonal turns white."""
    for k in range(1, min(rgb.shape[0], rgb.shape[1])):
        if tuple(rgb[k, k]) == (255, 255, 255):
            return k
        need(tuple(rgb[k, k]) == (0, 0, 0), f"the label box's diagonal at {k} is {tuple(rgb[k, k])}")
    raise Failure("no label in the top-left corner")


def check_overlay(rgb, image, truth, pred, size, dice, what):
    h, w = truth.shape
    need(rgb.shape[0] == size[1] and rgb.shape[1] == size[0],
         f"{what}: {rgb.shape[1]}x{rgb.shape[0]}, expected {size[0]}x{size[1]}")
    s = size[0] // w
    need(s * w == size[0] and s * h == size[1], f"{what}: the size is not a whole multiple of {w}x{h}")
    T = np.kron(truth, np.ones((s, s))).astype(bool)
    P = np.kron(pred, np.ones((s, s))) >= 0.5
    # The window: the 1st and 99th percentiles of the sorted values (the whole range if equal).
    v = np.sort(image[np.isfinite(image)])
    low = (len(v) - 1) // 100
    lo, hi = float(v[low]), float(v[len(v) - 1 - low])
    if not hi > lo:
        lo, hi = float(v[0]), float(v[-1])
    grey = np.clip(np.rint((image - lo) / (hi - lo) * 255), 0, 255) if hi > lo else np.zeros_like(image)
    G = np.kron(grey, np.ones((s, s)))
    # Outline: a true-tumour pixel with a 4-neighbour that is not (off the image counts as not).
    pad = np.pad(T, 1, constant_values=False)
    inner = pad[:-2, 1:-1] & pad[2:, 1:-1] & pad[1:-1, :-2] & pad[1:-1, 2:]
    O = T & ~inner
    # The label box, left out of the pixel rules: its text is read back by the C++ test.
    ts = label_box(rgb)
    label = "Dice: n/a" if np.isnan(dice) else f"Dice: {dice:.3f}"
    box_w, box_h = (len(label) * 6 - 1) * ts + 2 * ts, 7 * ts + 2 * ts
    box = np.zeros((size[1], size[0]), dtype=bool)
    box[:box_h, :box_w] = True
    in_box = rgb[box]
    need(np.all(np.all(in_box == 0, axis=1) | np.all(in_box == 255, axis=1)),
         f"{what}: the label box holds colours other than its black and white")
    rest = ~box
    outline_px = np.all(rgb == np.array(OUTLINE), axis=2)
    need(np.array_equal(outline_px & rest, O & rest),
         f"{what}: {int(np.sum((outline_px != O) & rest))} pixels break the outline rule "
         f"(truth has {int(np.sum(truth))} tumour pixels)")
    fill = rest & ~O & P
    want = (1 - ALPHA) * G[..., None] + ALPHA * np.array(FILL)
    need(np.all(np.abs(rgb[fill] - want[fill]) <= 1.01),
         f"{what}: predicted-tumour pixels are not the fill blended over the FLAIR grey")
    plain = rest & ~O & ~P
    need(np.all(np.abs(rgb[plain] - G[plain][:, None]) <= 1.01),
         f"{what}: pixels without tumour are not the FLAIR in grey")
    return {"label": label, "outline_pixels": int(np.sum(O)), "fill_pixels": int(np.sum(fill)), "text_scale": ts}


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.imgs, self.table, self.row, self.cell = [], [], [], None, None
        self.in_subjects = False
        self.highlighted = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if tag == "table" and "subjects" in a.get("class", ""):
            self.in_subjects = True
        if self.in_subjects and tag == "tr":
            self.row = []
            if "highlight" in (a.get("class") or ""):
                self.highlighted.append(len(self.table))
        if self.in_subjects and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_subjects = False
        if self.in_subjects and tag in ("td", "th") and self.row is not None:
            self.row.append(self.cell.strip())
            self.cell = None
        if self.in_subjects and tag == "tr" and self.row is not None:
            self.table.append(self.row)
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def check_report(path, args, slice_p, slice_t, manifest, pngs_on_disk):
    text = open(path, encoding="utf-8").read()
    # Self-contained: nothing a browser would fetch.
    for word in ("http:", "https:", "url(", "@import", "<script"):
        need(word not in text.lower(), f"{path}: contains '{word}'")
    page = Page()
    page.feed(text)
    page.close()
    for tag, a in page.tags:
        need(tag not in ("script", "iframe", "object", "embed", "base"), f"{path}: a <{tag}> element")
        for k, v in a.items():
            if k in ("src", "href", "xlink:href", "srcset", "poster", "action", "data") and v is not None:
                need(v.startswith("data:") or v.startswith("#"), f"{path}: <{tag} {k}=\"{v[:40]}\"> is fetched")
    embedded = []
    for k, src in enumerate(page.imgs):
        prefix = "data:image/png;base64,"
        need(src.startswith(prefix), f"{path}: <img> {k} is not a data:image/png;base64 URI")
        try:
            data = base64.b64decode(src[len(prefix):], validate=True)
        except Exception as e:
            raise Failure(f"{path}: <img> {k}: bad base64: {e}")
        decode_png(data, f"{path}: <img> {k}")
        embedded.append(data)
    if pngs_on_disk is not None:
        need(sorted(embedded) == sorted(pngs_on_disk),
             f"{path}: its {len(embedded)} images are not the {len(pngs_on_disk)} PNG files of --png_dir")

    # The per-subject table against the Dice recomputed over each subject's rows.
    subjects = []
    if manifest:
        need(page.table and page.table[0][0] == "subject", f"{path}: no subject table")
        body = page.table[1:]
        test = manifest["test"]["subjects"]
        need(len(body) == len(test), f"{path}: {len(body)} table rows for {len(test)} test subjects")
        for row, s in zip(body, test):
            r0, n = s["first_row"], len(s["slices"])
            d = soft_dice(slice_p[r0:r0 + n], slice_t[r0:r0 + n], args.smooth)
            need(row[0] == s["id"], f"{path}: table row {row} is not subject {s['id']}")
            need(int(row[1]) == n, f"{path}: {s['id']} has {row[1]} slices in the table, {n} in the manifest")
            need(abs(float(row[3]) - d) <= 0.0005 + 1e-9, f"{path}: {s['id']}'s Dice is {row[3]}, recomputed {d:.5f}")
            subjects.append({"id": s["id"], "dice": d})
        if args.subject:
            ids = [s["id"] for s in test]
            need(page.highlighted == [1 + ids.index(args.subject)], f"{path}: --subject's row is not the highlighted one")

    # Every inline SVG is well-formed XML; the training curves have a point per step line.
    svgs = re.findall(r"<svg\b.*?</svg>", text, flags=re.S)
    charts = []
    for k, s in enumerate(svgs):
        try:
            root = ET.fromstring(s)
        except ET.ParseError as e:
            raise Failure(f"{path}: SVG {k} is not well-formed XML: {e}")
        charts.append(root)
    histograms = [c for c in charts if c.findall(".//rect")]
    need(len(histograms) == 1, f"{path}: {len(histograms)} histograms, expected 1")
    counted = sum(int(re.search(r": (\d+) slices$", t.text).group(1)) for t in histograms[0].iter("title"))
    need(counted == len(slice_p), f"{path}: the histogram's bars hold {counted} slices, the test split {len(slice_p)}")
    lines = [c for c in charts if c.findall(".//polyline")]
    need(len(lines) == (3 if args.curve_points else 0),
         f"{path}: {len(lines)} training curves, expected {3 if args.curve_points else 0}")
    for c in lines:
        pts = c.find(".//polyline").get("points").split()
        need(len(pts) == args.curve_points, f"{path}: a curve of {len(pts)} points, the log has {args.curve_points} steps")
        xs = [float(p.split(",")[0]) for p in pts]
        need(xs == sorted(xs), f"{path}: a curve's points are not in step order")
    return {"images": len(embedded), "subjects": subjects, "svgs": len(charts), "curves": len(lines)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--pred", required=True)
    ap.add_argument("--png-dir")
    ap.add_argument("--report")
    ap.add_argument("--subject")
    ap.add_argument("--smooth", type=float, default=1.0)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--log", help="the training log, to count its step lines")
    args = ap.parse_args()
    args.curve_points = 0
    if args.log and os.path.isfile(args.log):
        with open(args.log, errors="replace") as f:
            args.curve_points = sum(1 for line in f if STEP_LINE.match(line.strip()))

    imgs = np.load(os.path.join(args.data, "imgs_test.npy"))
    msks = np.load(os.path.join(args.data, "msks_test.npy"))
    pred = np.load(args.pred).astype(np.float64)
    n, h, w = imgs.shape[0], imgs.shape[1], imgs.shape[2]
    need(pred.shape == (n, h, w, 1), f"{args.pred}: shape {pred.shape}, expected {(n, h, w, 1)}")
    truth = (msks[..., list(WHOLE_TUMOUR)].sum(axis=-1) > 0.5).astype(np.float64)
    flair = imgs[..., FLAIR].astype(np.float64)
    p = pred[..., 0]
    dice = [soft_dice(p[r], truth[r], args.smooth) for r in range(n)]
    manifest_path = os.path.join(args.data, "manifest.json")
    manifest = json.load(open(manifest_path)) if os.path.exists(manifest_path) else None

    # best / median / worst among the slices showing tumour (truth or prediction), as documented.
    shows = [bool(np.any(truth[r] > 0) or np.any(p[r] >= 0.5)) for r in range(n)]
    rows = [r for r in range(n) if shows[r]] or list(range(n))
    order = sorted(rows, key=lambda r: (dice[r], r))
    top = max(dice[r] for r in rows)
    picks = {}
    for role, row in (("best", min(r for r in rows if dice[r] == top)), ("median", order[(len(order) - 1) // 2]),
                      ("worst", order[0])):
        picks.setdefault(row, []).append(role)
    expected = {"_".join(roles) + ".png": row for row, roles in picks.items()}
    if args.subject:
        s = next(s for s in manifest["test"]["subjects"] if s["id"] == args.subject)
        for k, sl in enumerate(s["slices"]):
            expected[f"{args.subject}_slice{sl:03d}.png"] = s["first_row"] + k

    out = {"slice_dice": dice, "files": expected, "labels": {}, "overlays": {}}
    pngs = None
    if args.png_dir:
        found = sorted(os.listdir(args.png_dir))
        need(found == sorted(expected), f"{args.png_dir}: holds {found}, expected {sorted(expected)}")
        pngs = []
        for name, row in expected.items():
            data = open(os.path.join(args.png_dir, name), "rb").read()
            pngs.append(data)
            rgb = decode_png(data, name)
            r = check_overlay(rgb, flair[row], truth[row], p[row], (args.size, args.size), dice[row], name)
            out["labels"][name] = r["label"]
            out["overlays"][name] = r
    if args.report:
        out["report"] = check_report(args.report, args, p, truth, manifest, pngs)
    print(json.dumps(out))


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print(f"check_report.py: {e}")
        sys.exit(1)
