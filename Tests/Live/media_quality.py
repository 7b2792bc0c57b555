#!/usr/bin/env python3
"""Video bitrate, frame rate, freezes and picture sizes of a recording, from ffprobe.

    media_quality.py FILE [--from S] [--to S] [--freeze S] [--all-frames]

Reads the packets of the first video stream (and the first audio stream) with
ffprobe and prints one JSON line:

    {"file", "from", "to", "duration",
     "video": {"codec", "packets", "keyframes", "seconds", "kbps", "fps",
               "longest_gap", "longest_gap_at", "freezes": [[at, gap], ...],
               "sizes": [[t, width, height], ...], "widths": [...],
               "per_second": [[second, kbps, frames], ...]},
     "audio": {"present", "codec", "packets", "seconds", "kbps", "longest_gap"}}

Everything except "sizes" counts packets with pts in [--from, --to] (default the whole
file; "widths" = the widths shown there): kbps = their bytes over their span, fps = (packets - 1) / span, longest_gap =
the largest pts step between consecutive video packets (a freeze), freezes = every
step > --freeze (default 0.5 s). "sizes" lists the picture size at t=0 and at every
change, from the decoded key frames only (cheap; VP8/H.264 change size only there)
or from every frame with --all-frames (VP9 may switch at inter frames).
Exit 0, or 1 when ffprobe fails or there is no video stream.
"""

import argparse
import json
import subprocess
import sys

TIMEOUT = 120


def ffprobe(args):
    out = subprocess.run(["ffprobe", "-v", "error", *args, "-of", "json"],
                         capture_output=True, text=True, timeout=TIMEOUT)
    if out.returncode:
        raise RuntimeError(out.stderr.strip() or "ffprobe failed")
    return json.loads(out.stdout)


def num(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def packets(path, selector):
    data = ffprobe(["-select_streams", selector, "-show_entries",
                    "packet=pts_time,dts_time,size,flags", path])
    out = []
    for p in data.get("packets", []):
        t = num(p.get("pts_time"))
        if t is None:
            t = num(p.get("dts_time"))
        if t is None:
            continue
        out.append((t, int(p.get("size", 0)), "K" in p.get("flags", "")))
    out.sort(key=lambda x: x[0])
    return out


def span_stats(pkts):
    """seconds, kbps, fps, longest gap (and where) of time-sorted packets."""
    if len(pkts) < 2:
        return {"seconds": 0.0, "kbps": None, "fps": None, "longest_gap": None, "longest_gap_at": None}
    span = pkts[-1][0] - pkts[0][0]
    gaps = [(b[0] - a[0], a[0]) for a, b in zip(pkts, pkts[1:])]
    gap, at = max(gaps)
    return {"seconds": round(span, 3),
            "kbps": round(sum(p[1] for p in pkts[:-1]) * 8 / 1000 / span, 1) if span > 0 else None,
            "fps": round((len(pkts) - 1) / span, 2) if span > 0 else None,
            "longest_gap": round(gap, 3), "longest_gap_at": round(at, 3)}


def picture_sizes(path, all_frames):
    args = [] if all_frames else ["-skip_frame", "nokey"]
    data = ffprobe([*args, "-select_streams", "v:0", "-show_entries",
                    "frame=pts_time,best_effort_timestamp_time,width,height", path])
    sizes = []
    for f in data.get("frames", []):
        t = num(f.get("pts_time"))
        if t is None:
            t = num(f.get("best_effort_timestamp_time"))
        w, h = f.get("width"), f.get("height")
        if t is None or w is None:
            continue
        if not sizes or (sizes[-1][1], sizes[-1][2]) != (w, h):
            sizes.append([round(t, 3), w, h])
    return sizes


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file")
    p.add_argument("--from", dest="start", type=float, default=0.0, help="seconds into the file")
    p.add_argument("--to", dest="end", type=float, default=None)
    p.add_argument("--freeze", type=float, default=0.5, help="list gaps longer than this (s)")
    p.add_argument("--all-frames", action="store_true", help="picture sizes from every frame, not key frames")
    a = p.parse_args()

    try:
        info = ffprobe(["-show_entries", "format=duration:stream=index,codec_type,codec_name,width,height",
                        a.file])
        streams = info.get("streams", [])
        vstream = next((s for s in streams if s.get("codec_type") == "video"), None)
        astream = next((s for s in streams if s.get("codec_type") == "audio"), None)
        res = {"file": a.file, "from": a.start, "to": a.end,
               "duration": num(info.get("format", {}).get("duration")), "video": None,
               "audio": {"present": False}}
        if vstream is None:
            print(json.dumps(res))
            return 1

        def window(pkts):
            return [x for x in pkts if x[0] >= a.start and (a.end is None or x[0] <= a.end)]

        vall = packets(a.file, "v:0")
        vwin = window(vall)
        v = {"codec": vstream.get("codec_name"), "packets": len(vwin),
             "keyframes": sum(1 for x in vwin if x[2]), **span_stats(vwin)}
        v["freezes"] = [[round(x[0], 3), round(y[0] - x[0], 3)] for x, y in zip(vwin, vwin[1:])
                        if y[0] - x[0] > a.freeze]
        per = {}
        for t, size, _ in vwin:
            sec = int(t)
            b, n = per.get(sec, (0, 0))
            per[sec] = (b + size, n + 1)
        v["per_second"] = [[s, round(b * 8 / 1000, 1), n] for s, (b, n) in sorted(per.items())]
        v["sizes"] = picture_sizes(a.file, a.all_frames)
        # widths shown in the window: the size in effect at --from, and every change up to --to
        before = [s for s in v["sizes"] if s[0] <= a.start]
        inside = [s for s in v["sizes"] if s[0] > a.start and (a.end is None or s[0] <= a.end)]
        v["widths"] = sorted({s[1] for s in before[-1:] + inside})
        res["video"] = v
        if astream is not None:
            awin = window(packets(a.file, "a:0"))
            st = span_stats(awin)
            res["audio"] = {"present": len(awin) > 0, "codec": astream.get("codec_name"), "packets": len(awin),
                            "seconds": st["seconds"], "kbps": st["kbps"], "longest_gap": st["longest_gap"]}
    except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
        print(json.dumps({"file": a.file, "error": str(e)}))
        return 1
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
