"""Builds the quality benchmark's real image sets as class folders (called by prepare.sh, which installs the
packages). Runs with Debian's python3 (/usr/bin/python3) and python3-pil.

    /usr/bin/python3 benchmarks/quality-data/prepare.py --dest /opt/finetune-quality-data

Sets (each rebuilt only when its recipe changed; written to <set>.tmp and renamed when complete):

  openclipart/<class>/*.png     Debian openclipart-png: 8 category folders of clip art (public domain)
  emoji/<vendor>/<class>/*.png  npm emoji-datasource-{apple,google,twitter,facebook}@16.0.0: the same emoji in
                                every vendor folder (same file names), top-level categories of emoji.json
                                (Component left out), base emoji only (no skin-tone variants), 64x64
  gcompris/<class>/*.png        Debian gcompris-qt-data: photos from the activities' Qt resource files (.rcc,
                                WebP inside, converted to PNG): categorisation images + animal photos

Pixels are kept as the packages ship them: alpha is kept (no compositing: the consumer composites, e.g. onto
white), WebP becomes PNG, and an image whose longer side exceeds MAX_SIDE is downscaled (Lanczos) to that.
Exact duplicates (same decoded pixels) are kept once per set. Each set gets MANIFEST.tsv (file, class, source,
width, height, transparent) and SUMMARY.txt.
"""
import argparse
import glob
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import zlib

from PIL import Image

MAX_SIDE = 512
EMOJI_VERSION = "16.0.0"
VENDORS = ["apple", "google", "twitter", "facebook"]
RECIPE = {
    "openclipart": "v1 max%d" % MAX_SIDE,
    "emoji": "v1 %s" % EMOJI_VERSION,
    "gcompris": "v1 max%d" % MAX_SIDE,
}

OPENCLIPART = "/usr/share/openclipart/png"
OPENCLIPART_CLASSES = {  # class -> folder under /usr/share/openclipart/png (recursively)
    "mammal": "animals/mammals",
    "fruit": "food/fruit",
    "dessert": "food/desserts",
    "music": "recreation/music",
    "sport": "recreation/sports",
    "clothing": "people/clothing",
    "vehicle": "transportation/vehicles",
    "roadsign": "transportation/roadsigns",
}

GCOMPRIS = "/usr/share/gcompris-qt/rcc"
GCOMPRIS_CLASSES = {  # class -> [(rcc file, path prefix inside it)]; photos only (no drawn sprites)
    "fish": [("categorization", "gcompris/src/activities/categorization/resource/images/fishes/")],
    "tool": [("categorization", "gcompris/src/activities/categorization/resource/images/tools/")],
    "renewable_energy": [("categorization", "gcompris/src/activities/categorization/resource/images/renewable/")],
    "monument": [("categorization", "gcompris/src/activities/categorization/resource/images/monuments/")],
    "household_object": [("categorization", "gcompris/src/activities/categorization/resource/images/others/")],
    "animal": [("erase", "gcompris/src/activities/erase/resource/"),
               ("explore_world_animals", "gcompris/src/activities/explore_world_animals/resource/animals/"),
               ("explore_farm_animals", "gcompris/src/activities/explore_farm_animals/resource/animals/")],
}


# ------------------------------------------------------------------------------------------ helpers

def read_rcc(path):
    """Files of a Qt binary resource (.rcc, format versions 1-3, zlib or uncompressed): {path: bytes}."""
    b = open(path, "rb").read()
    if b[:4] != b"qres":
        raise ValueError(path + " is not a Qt resource file")
    ver, tree, data, names = struct.unpack(">IIII", b[4:20])
    node_size = 14 if ver == 1 else 22

    def name(off):
        (n,) = struct.unpack(">H", b[names + off:names + off + 2])
        return b[names + off + 6:names + off + 6 + 2 * n].decode("utf-16-be")

    out = {}

    def walk(i, prefix):
        o = tree + i * node_size
        noff, flags = struct.unpack(">IH", b[o:o + 6])
        nm = name(noff)
        if flags & 2:  # directory
            count, first = struct.unpack(">II", b[o + 6:o + 14])
            for k in range(count):
                walk(first + k, prefix + nm + "/" if i else prefix)
            return
        (doff,) = struct.unpack(">I", b[o + 10:o + 14])
        (size,) = struct.unpack(">I", b[data + doff:data + doff + 4])
        raw = b[data + doff + 4:data + doff + 4 + size]
        if flags & 1:  # zlib, qCompress format (4-byte big-endian length first)
            raw = zlib.decompress(raw[4:])
        elif flags & 4:
            raise ValueError("zstd-compressed entry in " + path + ": " + prefix + nm)
        out[prefix + nm] = raw

    walk(0, "")
    return out


def normalise(im):
    """Keeps RGB or RGBA (palette/grey converted, alpha kept); downscales past MAX_SIDE."""
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info) \
        or (im.mode in ("RGB", "L") and "transparency" in im.info)
    im = im.convert("RGBA" if has_alpha else "RGB")
    if max(im.size) > MAX_SIDE:
        scale = MAX_SIDE / max(im.size)
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.LANCZOS)
    return im


def transparent(im):
    return im.mode == "RGBA" and im.getchannel("A").getextrema()[0] < 255


class SetWriter:
    """Writes one set into <dest>/<name>.tmp, renamed to <dest>/<name> on finish."""

    def __init__(self, dest, name):
        self.dest, self.name = dest, name
        self.tmp = os.path.join(dest, name + ".tmp")
        shutil.rmtree(self.tmp, ignore_errors=True)
        os.makedirs(self.tmp)
        self.rows = []
        self.seen = {}
        self.skipped = []

    def add(self, rel_dir, cls, stem, im, source, dedupe_key=""):
        im = normalise(im)
        key = dedupe_key + hashlib.sha1(im.mode.encode() + str(im.size).encode() + im.tobytes()).hexdigest()
        if key in self.seen:
            self.skipped.append((source, "duplicate of " + self.seen[key]))
            return False
        out_dir = os.path.join(self.tmp, rel_dir, cls)
        os.makedirs(out_dir, exist_ok=True)
        rel = os.path.join(rel_dir, cls, stem + ".png")
        if os.path.exists(os.path.join(self.tmp, rel)):
            rel = os.path.join(rel_dir, cls, stem + "-" + key[-8:] + ".png")
        im.save(os.path.join(self.tmp, rel), optimize=False)
        self.seen[key] = source
        self.rows.append((rel, cls, source, im.width, im.height, int(transparent(im))))
        return True

    def finish(self, header):
        with open(os.path.join(self.tmp, "MANIFEST.tsv"), "w") as f:
            f.write("file\tclass\tsource\twidth\theight\ttransparent\n")
            for r in self.rows:
                f.write("\t".join(str(x) for x in r) + "\n")
        summary = summarise(header, self.rows, self.skipped)
        with open(os.path.join(self.tmp, "SUMMARY.txt"), "w") as f:
            f.write(summary)
        with open(os.path.join(self.tmp, ".prepared"), "w") as f:
            f.write(RECIPE[self.name] + "\n")
        final = os.path.join(self.dest, self.name)
        shutil.rmtree(final, ignore_errors=True)
        os.rename(self.tmp, final)
        return summary


def summarise(header, rows, skipped):
    groups = {}
    for rel, cls, _src, w, h, t in rows:
        group = os.path.dirname(os.path.dirname(rel)) or "."
        groups.setdefault(group, {}).setdefault(cls, []).append((w, h, t))
    lines = [header]
    for group in sorted(groups):
        classes = groups[group]
        total = sum(len(v) for v in classes.values())
        lines.append("  %s: %d classes, %d images" % (group if group != "." else "(set)", len(classes), total))
        for cls in sorted(classes):
            v = classes[cls]
            ws = sorted(x[0] for x in v)
            hs = sorted(x[1] for x in v)
            lines.append("    %-18s %5d images  width %4d..%4d (median %4d)  height %4d..%4d (median %4d)"
                         "  transparent %d" % (cls, len(v), ws[0], ws[-1], ws[len(ws) // 2], hs[0], hs[-1],
                                               hs[len(hs) // 2], sum(x[2] for x in v)))
    lines.append("  skipped: %d%s" % (len(skipped), "".join("\n    %s (%s)" % s for s in skipped[:20])))
    return "\n".join(lines) + "\n"


def up_to_date(dest, name):
    stamp = os.path.join(dest, name, ".prepared")
    return os.path.exists(stamp) and open(stamp).read().strip() == RECIPE[name]


# ------------------------------------------------------------------------------------------ sets

def build_openclipart(dest):
    w = SetWriter(dest, "openclipart")
    for cls, folder in OPENCLIPART_CLASSES.items():
        files = sorted(glob.glob(os.path.join(OPENCLIPART, folder, "**", "*.png"), recursive=True))
        if not files:
            raise SystemExit("no PNG under %s/%s: is openclipart-png installed?" % (OPENCLIPART, folder))
        for f in files:
            stem = os.path.relpath(f, os.path.join(OPENCLIPART, folder))[:-4].replace(os.sep, "__")
            try:
                with Image.open(f) as im:
                    im.load()
                    w.add("", cls, stem, im, os.path.relpath(f, OPENCLIPART))
            except Exception as e:  # a broken file in the package
                w.skipped.append((os.path.relpath(f, OPENCLIPART), "unreadable: %s" % e))
    return w.finish("openclipart (Debian openclipart-png, public domain), PNG, alpha kept, longer side <= %d"
                    % MAX_SIDE)


def emoji_pack(packs, vendor):
    tgz = os.path.join(packs, "emoji-datasource-%s-%s.tgz" % (vendor, EMOJI_VERSION))
    if not os.path.exists(tgz):
        os.makedirs(packs, exist_ok=True)
        subprocess.run(["npm", "pack", "--silent", "emoji-datasource-%s@%s" % (vendor, EMOJI_VERSION)],
                       cwd=packs, check=True, stdout=subprocess.DEVNULL)
    return tgz


def build_emoji(dest, packs):
    wanted = {}  # vendor -> {image file name: bytes}
    meta = None
    for vendor in VENDORS:
        tgz = emoji_pack(packs, vendor)
        prefix = "package/img/%s/64/" % vendor
        images = {}
        with tarfile.open(tgz) as tar:
            for m in tar:
                if m.name == "package/emoji.json" and meta is None:
                    meta = json.load(tar.extractfile(m))
                elif m.name.startswith(prefix) and m.name.endswith(".png"):
                    images[m.name[len(prefix):]] = tar.extractfile(m).read()
        wanted[vendor] = images
    entries = [e for e in meta if e["category"] != "Component"
               and all(e.get("has_img_" + v) and e["image"] in wanted[v] for v in VENDORS)]
    # an emoji drawn exactly like an earlier one by any vendor (e.g. flags that share a design) is left out in
    # every vendor folder, so that the vendor folders keep the same emoji
    w = SetWriter(dest, "emoji")
    seen = set()
    kept = 0
    for e in sorted(entries, key=lambda e: e["sort_order"]):
        cls = e["category"].lower().replace(" & ", "_and_").replace(" ", "_")
        images = {}
        for vendor in VENDORS:
            with Image.open(io.BytesIO(wanted[vendor][e["image"]])) as im:
                im.load()
                images[vendor] = normalise(im)
        keys = {v + ":" + hashlib.sha1(images[v].tobytes()).hexdigest() for v in VENDORS}
        if keys & seen:
            w.skipped.append(("%s %s" % (e["image"], e["short_name"]), "drawn like an earlier emoji by a vendor"))
            continue
        seen |= keys
        kept += 1
        for vendor in VENDORS:
            w.add(vendor, cls, e["image"][:-4], images[vendor], "%s:%s %s" % (vendor, e["image"], e["short_name"]),
                  dedupe_key=vendor + ":")
    summary = w.finish("emoji (npm emoji-datasource-{%s}@%s; code MIT, each vendor's artwork under its own"
                       " licence), 64x64 PNG, alpha kept; the same %d emoji in each vendor folder"
                       % (",".join(VENDORS), EMOJI_VERSION, kept))
    for vendor in VENDORS:  # the packs are large; the set is built
        os.remove(emoji_pack(packs, vendor))
    return summary


def build_gcompris(dest):
    w = SetWriter(dest, "gcompris")
    cache = {}
    for cls, sources in GCOMPRIS_CLASSES.items():
        for rcc, prefix in sources:
            if rcc not in cache:
                path = os.path.join(GCOMPRIS, rcc + ".rcc")
                if not os.path.exists(path):
                    raise SystemExit(path + " missing: is gcompris-qt-data installed?")
                cache[rcc] = read_rcc(path)
            files = sorted(k for k in cache[rcc] if k.startswith(prefix) and "/" not in k[len(prefix):]
                           and k.lower().endswith((".webp", ".png", ".jpg", ".jpeg")))
            if not files:
                raise SystemExit("no images under %s in %s.rcc" % (prefix, rcc))
            for k in files:
                with Image.open(io.BytesIO(cache[rcc][k])) as im:
                    im.load()
                    stem = rcc + "__" + os.path.splitext(os.path.basename(k))[0]
                    w.add("", cls, stem, im, "%s.rcc:%s" % (rcc, k))
    return w.finish("gcompris (Debian gcompris-qt-data, GPL-3.0+ and image licences of GCompris), photos from"
                    " .rcc resources, WebP -> PNG, longer side <= %d" % MAX_SIDE)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dest", required=True)
    ap.add_argument("--packs", help="where npm pack puts the emoji tarballs (default DEST/.packages)")
    ap.add_argument("--only", nargs="*", choices=sorted(RECIPE), help="build only these sets")
    args = ap.parse_args()
    os.makedirs(args.dest, exist_ok=True)
    packs = args.packs or os.path.join(args.dest, ".packages")
    for name in args.only or ["openclipart", "emoji", "gcompris"]:
        if up_to_date(args.dest, name):
            print("%s: up to date (%s)" % (name, os.path.join(args.dest, name)))
            sys.stdout.write(open(os.path.join(args.dest, name, "SUMMARY.txt")).read())
            continue
        print("%s: building ..." % name, flush=True)
        if name == "openclipart":
            summary = build_openclipart(args.dest)
        elif name == "emoji":
            summary = build_emoji(args.dest, packs)
        else:
            summary = build_gcompris(args.dest)
        print("%s: made %s" % (name, os.path.join(args.dest, name)))
        sys.stdout.write(summary)


if __name__ == "__main__":
    main()
