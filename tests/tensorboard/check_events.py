#!/usr/bin/python3
"""Reads a unetrun event file the way TensorBoard does and checks what is in it.

The record reader here follows TensorBoard's conventions (its event-file loader): records are
read in order, each one's two CRCs checked, and a record that is not all there (a writer that
crashed mid-record, or one still writing) ends the reading; every whole record before it
counts. A CRC that does not match is corruption, an error. The messages are decoded with
libprotobuf (python3-protobuf) from events.proto; PNGs with python3-png.

  check_events.py --pb DIR FILE --summary            # read only: print what was read (JSON)
  check_events.py --pb DIR FILE --dump DUMP --steps N --image-steps I --histogram-steps H \\
                  --image-size HxW [--test-dice] [--channel NAME]

Exit status 0 when every check passes; otherwise the failures, one a line, and status 1.
"""
import argparse
import importlib
import json
import math
import re
import struct
import sys

# CRC32C (Castagnoli), reflected, table-driven: our own, sharing nothing with the C++ one.
_POLY = 0x82F63B78
_TABLE = []
for _b in range(256):
    _r = _b
    for _ in range(8):
        _r = (_r >> 1) ^ _POLY if _r & 1 else _r >> 1
    _TABLE.append(_r)


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


class Corrupt(Exception):
    pass


def read_records(data):
    """(records, end of the last whole record, truncated?) under TensorBoard's conventions."""
    records, pos = [], 0
    while pos < len(data):
        if len(data) - pos < 12:
            return records, pos, True
        length_bytes = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", length_bytes)
        (length_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        if masked(crc32c(length_bytes)) != length_crc:
            raise Corrupt("record at byte %d: the length's CRC does not match" % pos)
        if len(data) - pos < 12 + length + 4:
            return records, pos, True
        payload = data[pos + 12:pos + 12 + length]
        (data_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        if masked(crc32c(payload)) != data_crc:
            raise Corrupt("record at byte %d: the data's CRC does not match" % pos)
        records.append(payload)
        pos += 16 + length
    return records, pos, False


def default_limits():
    """TensorFlow's default histogram bucket limits, built as TensorFlow builds them."""
    positive = []
    v = 1.0e-12
    while v < 1.0e20:
        positive.append(v)
        v *= 1.1
    dbl_max = sys.float_info.max
    return [-dbl_max] + [-p for p in reversed(positive)] + [0.0] + positive + [dbl_max]


def parse_dump(path):
    """Param names with their element counts, and the op labels and kernels of each list."""
    params, ops, section = {}, {}, None
    for line in open(path):
        head = re.match(r"^(params|forward ops|backward ops|update ops) \d+$", line.strip())
        if head and not line.startswith(" "):
            section = head.group(1).split()[0]
            continue
        if not line.startswith("  ") or section is None:
            if line.strip() == "":
                section = None
            continue
        fields = line.split()
        if section == "params":
            keras = re.search(r"keras \[([0-9,]+)\]", line)
            n = 1
            for d in keras.group(1).split(","):
                n *= int(d)
            params[fields[1]] = n
        else:
            ops.setdefault(section, []).append((fields[1], fields[2]))
    return params, ops


class Checker:
    def __init__(self):
        self.failures = []

    def expect(self, ok, what):
        if not ok:
            self.failures.append(what)
        return ok


def png_of(png_module, data):
    reader = png_module.Reader(bytes=data)
    width, height, rows, info = reader.read()
    return width, height, [list(r) for r in rows], info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--pb", required=True, help="folder holding events_pb2.py (protoc --python_out)")
    ap.add_argument("--summary", action="store_true")
    ap.add_argument("--dump")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--image-steps", type=int, default=0)
    ap.add_argument("--histogram-steps", type=int, default=0)
    ap.add_argument("--image-size")
    ap.add_argument("--test-dice", action="store_true")
    ap.add_argument("--channel", default="flair")
    args = ap.parse_args()

    sys.path.insert(0, args.pb)
    pb = importlib.import_module("events_pb2")
    data = open(args.file, "rb").read()
    try:
        records, end, truncated = read_records(data)
    except Corrupt as e:
        print("%s: %s" % (args.file, e))
        return 1
    events = [pb.Event.FromString(r) for r in records]
    if args.summary:
        print(json.dumps({"records": len(records), "end": end, "truncated": truncated,
                          "steps": sorted({e.step for e in events if e.WhichOneof("what") == "summary"})}))
        return 0

    c = Checker()
    c.expect(not truncated, "the file ends inside a record (byte %d of %d)" % (end, len(data)))
    c.expect(len(events) >= 2, "fewer than two records")
    c.expect(events[0].WhichOneof("what") == "file_version" and events[0].file_version == "brain.Event:2",
             "the first record is not file_version brain.Event:2")
    walls = [e.wall_time for e in events]
    c.expect(all(a <= b for a, b in zip(walls, walls[1:])), "wall times go backwards")
    c.expect(all(1e9 < w < 1e11 for w in walls), "wall times are not seconds since 1970")

    params, ops = parse_dump(args.dump)
    # The graph: one node per op of every list, named as --dump names it, with its kernel.
    graphs = [e for e in events if e.WhichOneof("what") == "graph_def"]
    if c.expect(len(graphs) == 1, "%d graph records, not 1" % len(graphs)):
        g = pb.GraphDef.FromString(graphs[0].graph_def)
        nodes = {n.name: n for n in g.node}
        c.expect(len(nodes) == len(g.node), "node names are not unique")
        for lst, entries in ops.items():
            for label, kernel in entries:
                n = nodes.get("%s/%s" % (lst, label))
                if c.expect(n is not None, "no graph node %s/%s" % (lst, label)):
                    c.expect(n.attr["kernel"].s.decode() == kernel, "%s/%s: kernel %r, the plan's %r"
                             % (lst, label, n.attr["kernel"].s.decode(), kernel))
                    c.expect("tile" in n.attr, "%s/%s: no tile attribute" % (lst, label))
                    c.expect(len(n.input) > 0, "%s/%s: no inputs" % (lst, label))
                    c.expect(len(n.attr["_output_shapes"].list.shape) > 0, "%s/%s: no output shapes" % (lst, label))
        op_nodes = sum(len(v) for v in ops.values())
        c.expect(sum(1 for n in g.node if n.name.split("/")[0] in ops) == op_nodes,
                 "graph op nodes differ in number from the plan's ops")
        for n in g.node:
            for i in n.input:
                src = i.lstrip("^").rsplit(":", 1)[0] if re.search(r":\d+$", i) else i.lstrip("^")
                c.expect(src in nodes, "%s: input %s names no node" % (n.name, i))
        for name, count in params.items():
            c.expect("state/" + name in nodes, "no source node state/%s" % name)

    # Summaries, by step and tag.
    by_step = {}
    for e in events:
        if e.WhichOneof("what") != "summary":
            continue
        for v in e.summary.value:
            key = (e.step, v.tag)
            c.expect(key not in by_step, "step %d: tag %s twice" % key)
            by_step[key] = v
    tags_at = {}
    for (step, tag) in by_step:
        tags_at.setdefault(step, set()).add(tag)

    import png as png_module
    limits = default_limits()
    limit_set = set(limits)
    h, w = (int(x) for x in args.image_size.split("x")) if args.image_size else (None, None)
    scalars = ["train/loss", "train/dice", "train/learning_rate", "train/images_per_s"]
    images = ["images/1_input_" + args.channel, "images/2_ground_truth", "images/3_prediction"]
    histos = ["weights/" + p for p in params] + ["gradients/" + p for p in params]
    counts = {"scalars": 0, "images": 0, "histograms": 0}
    for step in range(1, args.steps + 1):
        tags = tags_at.get(step, set())
        for t in scalars:
            v = by_step.get((step, t))
            if c.expect(v is not None and v.WhichOneof("value") == "simple_value", "step %d: no scalar %s" % (step, t)):
                c.expect(math.isfinite(v.simple_value), "step %d: %s is %r" % (step, t, v.simple_value))
                counts["scalars"] += 1
        loss, dice = by_step.get((step, "train/loss")), by_step.get((step, "train/dice"))
        if loss and dice:
            c.expect(abs(loss.simple_value + math.log(dice.simple_value)) < 1e-4,
                     "step %d: loss %g is not -log(dice %g)" % (step, loss.simple_value, dice.simple_value))
        want_images = args.image_steps > 0 and step % args.image_steps == 0
        for t in images:
            v = by_step.get((step, t))
            if not want_images:
                c.expect(v is None, "step %d: image %s, not an image step" % (step, t))
                continue
            if not c.expect(v is not None and v.WhichOneof("value") == "image", "step %d: no image %s" % (step, t)):
                continue
            counts["images"] += 1
            img = v.image
            c.expect((img.height, img.width) == (h, w), "step %d: %s is %dx%d, not %dx%d" % (step, t, img.height,
                                                                                            img.width, h, w))
            c.expect(img.colorspace == 1, "step %d: %s colorspace %d" % (step, t, img.colorspace))
            try:
                pw, ph, rows, info = png_of(png_module, img.encoded_image_string)
            except Exception as e:  # any decoding failure is the finding
                c.expect(False, "step %d: %s does not decode as PNG: %s" % (step, t, e))
                continue
            c.expect((ph, pw) == (h, w), "step %d: %s PNG is %dx%d" % (step, t, ph, pw))
            c.expect(info.get("greyscale") and info.get("bitdepth") == 8, "step %d: %s is not 8-bit gray" % (step, t))
            values = {p for r in rows for p in r}
            if t == "images/2_ground_truth":
                c.expect(values <= {0, 255}, "step %d: ground truth has values %s" % (step, sorted(values)[:5]))
        want_histos = args.histogram_steps > 0 and step % args.histogram_steps == 0
        for t in histos:
            v = by_step.get((step, t))
            if not want_histos:
                c.expect(v is None, "step %d: histogram %s, not a histogram step" % (step, t))
                continue
            if not c.expect(v is not None and v.WhichOneof("value") == "histo", "step %d: no histogram %s" % (step, t)):
                continue
            counts["histograms"] += 1
            hp = v.histo
            n = params[t.split("/", 1)[1]]
            c.expect(len(hp.bucket) == len(hp.bucket_limit) and len(hp.bucket) > 0,
                     "step %d: %s: %d buckets, %d limits" % (step, t, len(hp.bucket), len(hp.bucket_limit)))
            c.expect(sum(hp.bucket) == n and hp.num == n,
                     "step %d: %s: buckets sum to %g, num %g, the tensor has %d elements" % (step, t, sum(hp.bucket),
                                                                                          hp.num, n))
            c.expect(all(a < b for a, b in zip(hp.bucket_limit, hp.bucket_limit[1:])),
                     "step %d: %s: bucket limits not increasing" % (step, t))
            c.expect(all(x in limit_set for x in hp.bucket_limit),
                     "step %d: %s: a bucket limit outside TensorFlow's default layout" % (step, t))
            c.expect(hp.min <= hp.max, "step %d: %s: min %g > max %g" % (step, t, hp.min, hp.max))
            # Each value lies in its bucket: [previous limit, limit), so min and max do too.
            nonzero = [k for k, b in enumerate(hp.bucket) if b > 0]
            if nonzero:
                lo_limit = hp.bucket_limit[nonzero[0] - 1] if nonzero[0] > 0 else -sys.float_info.max
                c.expect(lo_limit <= hp.min < hp.bucket_limit[nonzero[0]], "step %d: %s: min outside its bucket" % (step, t))
                lo_limit = hp.bucket_limit[nonzero[-1] - 1] if nonzero[-1] > 0 else -sys.float_info.max
                c.expect(lo_limit <= hp.max < hp.bucket_limit[nonzero[-1]], "step %d: %s: max outside its bucket" % (step, t))
            c.expect(abs(hp.sum) <= n * max(abs(hp.min), abs(hp.max)) * (1 + 1e-9) + 1e-30,
                     "step %d: %s: sum %g beyond n * max|x|" % (step, t, hp.sum))
        extra = tags - set(scalars) - set(images) - set(histos) - {"test/dice", "tensorboard/overhead_percent"}
        c.expect(not extra, "step %d: unexpected tags %s" % (step, sorted(extra)))
    c.expect(not [s for s in tags_at if s < 1 or s > args.steps], "summaries at steps outside 1..%d: %s" %
             (args.steps, sorted(s for s in tags_at if s < 1 or s > args.steps)))
    test = by_step.get((args.steps, "test/dice"))
    if args.test_dice:
        if c.expect(test is not None, "no test/dice at step %d" % args.steps):
            c.expect(0.0 <= test.simple_value <= 1.0, "test/dice %g" % test.simple_value)
    else:
        c.expect(test is None, "test/dice written, but the run was not tested")
    overhead = by_step.get((args.steps, "tensorboard/overhead_percent"))
    if c.expect(overhead is not None, "no tensorboard/overhead_percent at step %d" % args.steps):
        c.expect(overhead.simple_value >= 0, "tensorboard/overhead_percent %g" % overhead.simple_value)

    for f in c.failures:
        print("%s: %s" % (args.file, f))
    if not c.failures:
        print(json.dumps({"records": len(records), "checked": counts}))
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
