#!/usr/bin/python3
"""consort-view's study browser against a consort-node it queries (C-FIND)
and retrieves from (C-GET), driven by injected events (--script) on SDL's
offscreen driver.

usage: view_browser.py CONSORT_VIEW CONSORT_NODE WORKDIR PORT

Checks: every study of the node is listed, newest first; typing filters
(a Chinese name typed in Chinese finds its study); Enter fetches the
study into the viewer's cache and shows its slices; B goes back to the
list; the cached study is byte-for-byte what the node sent (data sets);
--archive reads the same list from the node's index and opens the files
where they are, and another user without write access to the archive can
list it too while the node is stopped (read-only, nothing written). The
cache: a study opened again gets only what is new, --cache-max evicts,
an instance the node cannot send leaves the study shown and flagged
incomplete. Through a 1 MB/s relay (nodelib.slow_link): the browser
answers and counts during a fetch, Esc sends C-CANCEL and keeps nothing,
a quit mid-fetch keeps what came for the next opening, a node that hangs
mid-fetch is given up after --timeout seconds with a message, and a study
opens with its first series while the others come, each getting a
viewport when it is whole.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodelib as nl  # noqa: E402

import numpy as np  # noqa: E402
import pydicom  # noqa: E402
from PIL import Image  # noqa: E402



def instances(d):
    """The files of a cached study (not its .study and .unsent notes)."""
    return [f for f in nl.files_under(d) if not os.path.basename(f).startswith(".")]


def run_view(view, args, script, env):
    """consort-view driven by script lines (SDL offscreen); its state lines
    and its whole output."""
    p = subprocess.run([view, "--size", "900x500", "--script", "-"] + args,
                       input="\n".join(script) + "\n", stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120,
                       env=dict(env, SDL_VIDEODRIVER="offscreen"))
    return [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")], p.stdout


def mouse(view, port, work, syn):
    """The list by wheel, keys and mouse in a window that shows fewer rows
    than there are studies: the selection follows, a line under the list
    says how many are out of view, a double click opens the study."""
    env = dict(os.environ, XDG_CACHE_HOME=os.path.join(work, "cache-mouse"))
    node_args = ["--node", "CONSORT@127.0.0.1:%d" % port, "--aet", "VIEWER"]
    shot = os.path.join(work, "browser-more.png")
    s, out = run_view(view, node_args, ["state", "wheel -2", "state", "wheel 9", "state",
                                        "key End", "state", "key Home", "state",
                                        "screenshot " + shot, "quit"], env)
    sel = [x["selected"] for x in s]
    n = s[0]["rows"] if s else 0
    g = s[0]["list"] if s else {}
    nl.check(len(s) == 5 and sel == [0, 2, 0, n - 1, 0] and
             s[3]["list"]["top"] == n - g["visible"] and g["visible"] < n,
             "browser: wheel down 2, up 9, End, Home select rows %s of %d (%d in view)"
             % (sel, n, g.get("visible", 0)))
    # the line under the list says rows are out of view: text there, none
    # below the list without it (the hint's line is further down)
    img = np.asarray(Image.open(shot).convert("L")) if os.path.exists(shot) else None
    if img is not None and g:
        band = img[g["y"] + g["visible"] * g["row_h"]:
                   g["y"] + g["visible"] * g["row_h"] + 20, :400]
        nl.check((band > 100).sum() > 50,
                 "a line under the list says how many studies are out of view "
                 "(%d bright pixels)" % (band > 100).sum())
    else:
        nl.check(False, "browser screenshot: %s" % out[-300:])
    if not g:
        return
    def row(k):
        return "%d %d" % (300, g["y"] + k * g["row_h"] + g["row_h"] // 2)
    dr = [f for f in nl.files_under(syn) if "/dr/" in f]
    dr_series = str(pydicom.dcmread(dr[0], stop_before_pixels=True).SeriesInstanceUID)
    want = s[0]["names"].index(next(x for x in s[0]["names"] if "ller" in x))
    s, out = run_view(view, node_args, ["click " + row(3), "state",
                                        "click %d %d" % (300, g["y"] - 5), "state",
                                        "dclick " + row(want), "wait", "state", "quit"], env)
    nl.check(len(s) == 3 and s[0]["selected"] == 3 and s[1]["selected"] == 3 and
             s[2]["mode"] == "viewer" and s[2]["viewport_series"] == [dr_series],
             "browser: a click selects row 4, one on the column heads nothing, a "
             "double click on row %d opens that study (the DR): %s" %
             (want + 1, [(x["mode"], x.get("selected"), x.get("viewport_series"))
                         for x in s]))
    # scrolled to the end, the rows shown stay put under a click: a double
    # click on the first one shown opens it (the list used to move the
    # clicked row to the bottom, under the second click another study)
    top = n - g["visible"]
    s, out = run_view(view, node_args, ["key End", "state", "click " + row(0), "state",
                                        "dclick " + row(0), "wait", "state", "quit"], env)
    nl.check(len(s) == 3 and s[0]["list"]["top"] == top and s[1]["selected"] == top and
             s[1]["list"]["top"] == top and want == top and
             s[2]["mode"] == "viewer" and s[2]["viewport_series"] == [dr_series],
             "browser scrolled to the end: a click on the first row shown selects "
             "row %d and leaves the list still, a double click opens it: %s" %
             (top + 1, [(x["mode"], x.get("selected"), x.get("list", {}).get("top"))
                        for x in s]))


def main():
    view, node, work, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    syn = os.path.join(work, "syn")
    nl.gen_synthetic(syn, "--small", "--only", "ct,dr")
    many = os.path.join(work, "many")
    nl.gen_many(many, "--count", "12", "--studies", "4", "--seed", "41")
    storage = os.path.join(work, "var")
    srv = nl.node_server(node, storage, port, os.path.join(work, "node.log"),
                         sync="normal").start()
    nl.run(["storescu", "+sd", "+r", "-aec", "CONSORT", "127.0.0.1", str(port), syn,
            many], check_rc=0)
    cache = os.path.join(work, "cache")
    script = ["state", "text 张", "state", "key Return", "wait", "state", "key b", "state",
              "key BackSpace", "text wang", "state", "quit"]
    p = subprocess.run([view, "--size", "900x500", "--script", "-", "--node",
                        "CONSORT@127.0.0.1:%d" % port, "--aet", "VIEWER"],
                       input="\n".join(script) + "\n", stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120,
                       env=dict(os.environ, SDL_VIDEODRIVER="offscreen",
                                XDG_CACHE_HOME=cache))
    s = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    nl.check(p.returncode == 0 and len(s) == 5,
             "consort-view --node ran the script (exit %d)%s" % (
                 p.returncode, "" if len(s) == 5 else ": " + p.stdout[-800:]))
    dates = s[0]["dates"]
    nl.check(s[0]["studies"] == 6 and dates == sorted(dates, reverse=True),
             "6 studies listed, newest first: %s" % dates)
    nl.check(s[1]["rows"] == 1 and "张" in s[1]["names"][0],
             "typing 张 leaves one study: %s" % s[1]["names"])
    ct = [f for f in nl.files_under(syn) if "/ct/" in f]
    nl.check(s[2]["mode"] == "viewer" and s[2]["slices"] == len(ct),
             "Enter fetches it and shows %d slices" % s[2]["slices"])
    nl.check(s[3]["mode"] == "browser" and s[4]["rows"] >= 1 and
             all("WANG" in n.upper() for n in s[4]["names"]),
             "B returns to the list; typing 'wang' (after deleting 张) lists %s"
             % s[4]["names"])
    mouse(view, port, work, syn)
    uid = str(pydicom.dcmread(ct[0], stop_before_pixels=True).StudyInstanceUID)
    got = os.path.join(cache, "consort-view", uid)
    files = instances(got) if os.path.isdir(got) else []
    by_uid = {str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID): f
              for f in ct}
    same = sum(nl.dataset_bytes(f) == nl.dataset_bytes(
        by_uid[str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)])
        for f in files)
    nl.check(len(files) == len(ct) and same == len(ct),
             "the cache holds the study: %d/%d data sets identical to what was "
             "stored" % (same, len(ct)))
    # a series sent after the study was opened: opening it again fetches
    # what the cache lacks, and only that
    extra = os.path.join(work, "extra")
    os.makedirs(extra)
    ds = pydicom.dcmread(ct[0])
    ds.SeriesInstanceUID = pydicom.uid.generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = \
        pydicom.uid.generate_uid()
    ds.SeriesNumber = 99
    ds.save_as(os.path.join(extra, "late.dcm"), write_like_original=False)
    nl.run(["storescu", "-aec", "CONSORT", "127.0.0.1", str(port),
            os.path.join(extra, "late.dcm")], check_rc=0)
    before = {f: os.stat(f).st_mtime_ns for f in instances(got)}
    view_env = dict(os.environ, XDG_CACHE_HOME=cache)
    node_args = ["--node", "CONSORT@127.0.0.1:%d" % port, "--aet", "VIEWER"]
    s2, out = run_view(view, node_args, ["text 张", "key Return", "wait", "state", "quit"],
                       view_env)
    after = instances(got)
    check_note = s2[-1].get("note", "") if s2 else out[-300:]
    nl.check(len(after) == len(ct) + 1 and
             all(os.stat(f).st_mtime_ns == t for f, t in before.items()) and
             "1 new instance(s) fetched" in check_note,
             "the study opened again: the series sent since is fetched (%s), "
             "the %d cached files are left as they are" % (check_note, len(ct)))
    # a prior exam beside the study read: B, another study, Shift+Enter;
    # the series on screen stay, the other study's first image series
    # takes a viewport of its own (Enter alone would have replaced them)
    s13, out = run_view(view, node_args, ["text 张", "key Return", "wait", "state",
                                          "key b", "key BackSpace", "text wang",
                                          "key Return shift", "wait", "state",
                                          "quit"],
                         dict(view_env, XDG_CACHE_HOME=os.path.join(work, "cache-beside")))
    first = s13[0] if s13 else {}
    last = s13[-1] if len(s13) > 1 else {}
    series = last.get("viewport_series", [])
    wang_series = {str(pydicom.dcmread(f, stop_before_pixels=True).SeriesInstanceUID)
                   for f in nl.files_under(many)
                   if "WANG" in str(pydicom.dcmread(f, stop_before_pixels=True)
                                    .PatientName).upper()}
    before = first.get("viewport_series", [])
    nl.check(last.get("mode") == "viewer" and before and
             series[:-1] == before and series[-1] in wang_series and
             last.get("active") == len(before) and
             last.get("layout") == (2 if len(series) == 2 else 4),
             "Shift+Enter opens the other study beside the one read: viewports "
             "%s (were %s), layout %s" % (series, before, last.get("layout")))
    # the cache over its limit: the study used longest ago goes, the one
    # opened stays, and so does one holding a reading the node never got
    unsent = os.path.join(cache, "consort-view", "1.2.826.0.1.3680043.99.1")
    os.makedirs(unsent)
    shutil.copy(ct[0], os.path.join(unsent, "reading.dcm"))
    open(os.path.join(unsent, ".unsent"), "w").close()
    s3, out = run_view(view, node_args + ["--cache-max", "0.000001"],
                       ["text wang", "key Return", "wait", "state", "quit"], view_env)
    left = sorted(os.listdir(os.path.join(cache, "consort-view")))
    nl.check(s3 and s3[-1]["mode"] == "viewer" and len(left) == 2 and
             uid not in left and os.path.basename(unsent) in left,
             "--cache-max: opening another study evicts the CT used before; "
             "the one opened and one with an unsent reading stay (%s)" % left)
    # opened again with nothing new at the node: straight from the cache
    s5, out = run_view(view, node_args, ["text wang", "key Return", "wait", "state", "quit"],
                       view_env)
    parts = [d for d in os.listdir(os.path.join(cache, "consort-view"))
             if d.endswith(".part")]
    nl.check(s5 and s5[-1]["mode"] == "viewer" and not s5[-1]["note"] and not parts,
             "a cached study the node has nothing new for opens from the cache, "
             "fetching nothing (%s)" % (s5[-1].get("note") if s5 else out[-200:]))
    # an instance the node lists but cannot send (its file lost behind the
    # node's back): the rest is shown, and the note says the study is
    # incomplete; the next opening asks the node again
    lost = []
    for f in nl.files_under(storage):
        if f.endswith(".dcm"):
            d = pydicom.dcmread(f, stop_before_pixels=True)
            if str(d.get("PatientName", "")).upper().startswith("WANG") and \
                    str(d.StudyInstanceUID) not in lost:
                lost.append(str(d.StudyInstanceUID))
                os.rename(f, f + ".lost")
    cache2 = os.path.join(work, "cache2")
    s6, out = run_view(view, node_args, ["text wang", "key Return", "wait", "state", "quit"],
                       dict(os.environ, XDG_CACHE_HOME=cache2))
    note = s6[-1].get("warning", "") if s6 else out[-300:]
    shown = os.listdir(os.path.join(cache2, "consort-view")) if os.path.isdir(
        os.path.join(cache2, "consort-view")) else []
    nl.check(s6 and s6[-1]["mode"] == "viewer" and "instances the node lists are here" in note
             and len(shown) == 1 and not shown[0].endswith(".part"),
             "a study one of whose files the node cannot send opens with the "
             "rest, and says so (%r, cache %s)" % (note, shown))
    for f in nl.files_under(storage):
        if f.endswith(".lost"):
            os.rename(f, f[:-len(".lost")])
    # thumbnails of the cache: a one-image study (the DR) read and saved
    # (a presentation state and a measurement report beside the image,
    # the middle file of three) keeps its thumbnail, and B back to the list
    # shows the thumbnail of the study just fetched (the middle file was
    # the only one tried; the list's thumbnails were those of before)
    cache6 = os.path.join(work, "cache6")
    env6 = dict(os.environ, XDG_CACHE_HOME=cache6)
    s12, out = run_view(view, node_args, ["text Müller", "key Return", "wait",
                                          "key d", "drag left 300 200 600 200",
                                          "key d", "key s ctrl", "key b",
                                          "sleep 1500", "state", "quit"], env6)
    s13, out13 = run_view(view, node_args, ["sleep 1500", "state", "quit"], env6)
    dr_dir = [os.path.join(cache6, "consort-view", d)
              for d in os.listdir(os.path.join(cache6, "consort-view"))]
    nl.check(len(s12) == 1 and s12[0].get("reading") == ["in progress"],
             "the DR read and saved: back in the list (no F5) it reads "
             "in progress: %s" % (s12[0].get("reading") if s12 else out[-300:]))
    nl.check(len(s12) == 1 and s12[0]["mode"] == "browser" and
             s12[0]["thumbnails"] == 1 and len(s13) == 1 and
             s13[0]["thumbnails"] == 1 and len(dr_dir) == 1 and
             len(instances(dr_dir[0])) == 3,
             "a DR read and saved (%d files cached): B back to the list shows "
             "its thumbnail (%s), and so does the next list (%s)" % (
                 len(instances(dr_dir[0])) if len(dr_dir) == 1 else -1,
                 s12[0]["thumbnails"] if s12 else out[-300:],
                 s13[0]["thumbnails"] if s13 else out13[-300:]))
    # the same study from the node's archive (--archive): its state is
    # found through the index (the archive's folders hold every study's
    # files, hashed: it was never found there)
    sa3, out = run_view(view, ["--archive", storage],
                        ["wait", "text Müller", "key Return", "sleep 1500", "state",
                         "quit"], dict(os.environ))
    v = sa3[-1] if sa3 else {}
    nl.check(v.get("mode") == "viewer" and v.get("presents", 0) >= 1 and
             any(x["tool"] == "LENGTH" for x in v.get("annotations", [])),
             "--archive: the DR's saved state is found and applied (%s state(s), "
             "marks %s)" % (v.get("presents"), [x["tool"] for x in v.get("annotations", [])]))
    # over a slow link (1 MB/s) the window stays alive while the study
    # comes: the browser shows how many instances arrived and takes keys;
    # Esc stops the fetch and keeps nothing of it; left alone, it opens
    relay, slow = nl.slow_link(port, 1000000)
    slow_args = ["--node", "CONSORT@127.0.0.1:%d" % slow, "--aet", "VIEWER"]
    cache3 = os.path.join(work, "cache3")
    t0 = time.time()
    s7, out = run_view(view, slow_args, ["text 张", "key Return", "sleep 2000",
                                         "state", "wait", "state", "quit"],
                       dict(os.environ, XDG_CACHE_HOME=cache3))
    took = time.time() - t0
    ok = len(s7) == 2
    n_study = len(ct) + 1  # and the series sent late
    nl.check(ok and s7[0]["mode"] == "browser" and s7[0]["fetching"] == 1 and
             0 < s7[0]["received"] < n_study and
             ("of %d instances" % n_study) in s7[0]["status_text"] and
             s7[1]["mode"] == "viewer" and len(instances(os.path.join(
                 cache3, "consort-view", uid))) == n_study,
             "a fetch over a 1 MB/s link (%.1f s): after 2 s the browser "
             "answers, fetching, %s; then the study (%d instances) opens" % (
                 took, repr(s7[0]["status_text"]) if ok else out[-300:],
                 n_study))
    shutil.rmtree(cache3)

    def gets():
        return [l for l in srv.log_text().splitlines() if "c-get completed" in l]
    cancels = len(gets())
    # the cancel lands after the instance in flight (0.5 s each at 1 MB/s):
    # 4 s leave room on a loaded machine before the quit
    s8, out = run_view(view, slow_args, ["text 张", "key Return", "sleep 1200",
                                         "key Escape", "state", "sleep 4000",
                                         "quit"],
                       dict(os.environ, XDG_CACHE_HOME=cache3))
    left = os.listdir(os.path.join(cache3, "consort-view")) if os.path.isdir(
        os.path.join(cache3, "consort-view")) else []
    nl.check(len(s8) == 1 and s8[0]["mode"] == "browser" and s8[0]["fetching"] == 0
             and "cancelled" in s8[0]["status_text"] and not left and
             cancels < len(gets()) and gets()[-1].endswith(" cancelled"),
             "Esc during the fetch: back to the list (%s); the node was asked "
             "to stop (C-CANCEL: %r) and nothing is left in the cache (%s)"
             % (s8[0]["status_text"] if s8 else out[-300:],
                gets()[-1][-50:] if gets() else None, left))
    # quit during a fetch: the process ends at once (exit 0) although the
    # fetch still waits on the link; what came stays in the cache, and
    # opening the study again fetches the rest
    p = subprocess.run([view, "--size", "900x500", "--script", "-"] + slow_args,
                       input="text 张\nkey Return\nsleep 1500\nquit\n",
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=60, env=dict(os.environ, SDL_VIDEODRIVER="offscreen",
                                            XDG_CACHE_HOME=cache3))
    sdir = os.path.join(cache3, "consort-view", uid)
    part = len(instances(sdir)) if os.path.isdir(sdir) else -1
    s9, out9 = run_view(view, node_args, ["text 张", "key Return", "wait", "state",
                                          "quit"], dict(os.environ, XDG_CACHE_HOME=cache3))
    nl.check(p.returncode == 0 and 0 <= part < n_study and s9 and
             s9[-1]["mode"] == "viewer" and len(instances(sdir)) == n_study and
             "new instance(s) fetched" in s9[-1]["note"],
             "quit during a fetch: exit %d, %d of %d instances kept; opening the "
             "study again fetches the rest (%s)" % (
                 p.returncode, part, n_study, s9[-1]["note"] if s9 else out9[-200:]))
    # the node goes away in the middle of a fetch (hung, or a link that is
    # down: no reset comes): the fetch gives up after --timeout seconds of
    # silence and says so, the list answers, nothing half is kept; it
    # waited for ever, the status line counting on
    cache4 = os.path.join(work, "cache4")
    p = subprocess.Popen([view, "--size", "900x500", "--script", "-",
                          "--timeout", "3"] + slow_args, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env=dict(os.environ, SDL_VIDEODRIVER="offscreen",
                                  XDG_CACHE_HOME=cache4))
    p.stdin.write("text 张\nkey Return\nsleep 1200\n")
    p.stdin.flush()
    time.sleep(1.2)
    os.kill(srv.proc.pid, signal.SIGSTOP)
    t0 = time.time()
    try:
        out, _ = p.communicate("wait\nstate\nquit\n", timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    finally:
        os.kill(srv.proc.pid, signal.SIGCONT)
    took = time.time() - t0
    s11 = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    left = os.listdir(os.path.join(cache4, "consort-view")) if os.path.isdir(
        os.path.join(cache4, "consort-view")) else []
    nl.check(len(s11) == 1 and s11[0]["mode"] == "browser" and
             s11[0]["fetching"] == 0 and
             "no answer from the peer for 3 s" in s11[0]["status_text"] and
             took < 30 and not left,
             "the node hung mid-fetch: after %.0f s the browser says %r, "
             "nothing kept (%s)" % (took, s11[0]["status_text"] if s11 else
                                    out[-300:], left))
    # a study opens with its first series while the rest comes, and each
    # series that is then whole gets a viewport: two one-image series
    # stored first (about 0.6 and 1.1 s at 1 MB/s), then eight slices (5 s)
    prog = os.path.join(work, "prog")
    os.makedirs(prog)
    puid, pser = pydicom.uid.generate_uid(), [pydicom.uid.generate_uid() for _ in range(3)]
    for k, f in enumerate([ct[0], ct[1]] + ct):
        ds = pydicom.dcmread(f)
        ds.StudyInstanceUID, ds.PatientName, ds.PatientID = puid, "Progressive^Case", "PROG1"
        ds.SeriesInstanceUID = pser[min(k, 2)]
        ds.SeriesNumber = min(k, 2) + 1
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = \
            pydicom.uid.generate_uid()
        ds.save_as(os.path.join(prog, "%02d.dcm" % k), write_like_original=False)
    for batch in ([os.path.join(prog, "00.dcm")], [os.path.join(prog, "01.dcm")],
                  [os.path.join(prog, "%02d.dcm" % k) for k in range(2, len(ct) + 2)]):
        nl.run(["storescu", "-aec", "CONSORT", "127.0.0.1", str(port)] + batch,
               check_rc=0)
    s10, out10 = run_view(view, slow_args, ["text progressive", "key Return",
                                            "sleep 3000", "state", "wait", "state",
                                            "quit"],
                          dict(os.environ, XDG_CACHE_HOME=os.path.join(work, "cache5")))
    ok = len(s10) == 2
    nl.check(ok and s10[0]["mode"] == "viewer" and s10[0]["slices"] == 1 and
             len(s10[0]["viewport_slices"]) == 2 and
             "the rest of the study is coming" in s10[0]["fetch_line"] and
             len(s10[1]["viewport_slices"]) == 3 and s10[1]["layout"] == 4 and
             not s10[1]["fetch_line"],
             "over 1 MB/s a study opens with its first series while the rest "
             "comes (%r); after 3 s the two one-image series have a viewport "
             "each (%s), and the eight slices a third when they are whole (%s)" % (
                 s10[0]["fetch_line"] if ok else out10[-300:],
                 s10[0]["viewport_slices"] if ok else "?",
                 s10[1]["viewport_slices"] if ok else "?"))
    # the same study as a prior exam (Shift+Enter) beside four series on
    # screen, three presentation states coming first: the fourth viewport is
    # given up only when the prior's first image series is there (the
    # states gave it up, and Esc then left three); beside two series, the
    # rest of the prior gets no viewports when the fetch ends (all of it
    # came)
    four = os.path.join(work, "four")
    os.makedirs(four)
    fuid, fser = pydicom.uid.generate_uid(), [pydicom.uid.generate_uid() for _ in range(4)]
    for k in range(4):
        ds = pydicom.dcmread(ct[k])
        ds.StudyInstanceUID, ds.PatientName, ds.PatientID = fuid, "Four^Series", "FOUR1"
        ds.SeriesInstanceUID, ds.SeriesNumber = fser[k], k + 1
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = \
            pydicom.uid.generate_uid()
        ds.save_as(os.path.join(four, "%d.dcm" % k), write_like_original=False)
    for k in range(3):  # a state for each series, each a series of its own
        nl.run(["dcmpsmk", os.path.join(prog, "%02d.dcm" % k),
                os.path.join(work, "prog_pr%d.dcm" % k)], check_rc=0)
        nl.run(["storescu", "-aec", "CONSORT", "127.0.0.1", str(port),
                os.path.join(work, "prog_pr%d.dcm" % k)], check_rc=0)
    files4 = [os.path.join(four, "%d.dcm" % k) for k in range(4)]
    env7 = dict(os.environ, XDG_CACHE_HOME=os.path.join(work, "cache7"))
    crawl, crawl_port = nl.slow_link(port, 100000)
    s14, out14 = run_view(view, ["--node", "CONSORT@127.0.0.1:%d" % crawl_port, "--aet",
                                 "VIEWER"] + files4,
                          ["wait", "key b", "key F5", "text progressive",
                           "key Return shift", "sleep 2500", "state", "key Escape",
                           "state", "quit"], env7)
    crawl.close()
    ok = len(s14) == 2
    nl.check(ok and s14[0]["fetching"] == 1 and s14[0]["received"] >= 2 and
             s14[0].get("viewports") == 4 and s14[1]["fetching"] == 0 and
             s14[1].get("viewports") == 4,
             "Shift+Enter beside four viewports over 100 kB/s: the prior's "
             "states came first (%s instances), and the four viewports stay (%s) "
             "until an image series is there to take one, also after Esc (%s)"
             % (s14[0]["received"] if ok else out14[-300:],
                s14[0].get("viewports") if ok else "?",
                s14[1].get("viewports") if ok else "?"))
    shutil.rmtree(os.path.join(work, "cache7"))
    s15, out15 = run_view(view, slow_args + files4[:2],
                          ["wait", "key b", "key F5", "text progressive",
                           "key Return shift", "sleep 3000", "wait", "state",
                           "quit"], env7)
    ok = len(s15) == 1 and "viewport_series" in s15[0]
    got = s15[0]["viewport_series"] if ok else []
    nl.check(ok and len(got) == 3 and got[:2] == fser[:2] and got[2] in pser and
             s15[0]["active"] == 2 and not s15[0]["fetch_line"],
             "Shift+Enter beside two viewports over 1 MB/s: when the fetch ends "
             "the prior has its first image series beside them, and no more "
             "(%s)" % (got if ok else out15[-300:]))
    # P goes through the states of the active viewport's series, the
    # prior's (one): it went through the others' (none)
    nl.check(ok and len(got) == 3 and s15[0]["presents"] == 1,
             "the prior active: P goes through its %s state(s)" %
             (s15[0]["presents"] if ok else "?"))
    nl.run([node, "delete", "--study", puid, "--yes", "--storage", storage], check_rc=0)
    relay.close()
    # the same node's archive read directly (--archive: its index, its
    # files where they are), while the node runs
    p = subprocess.run([view, "--size", "900x500", "--script", "-", "--archive",
                        storage],
                       input="wait\nstate\nscreenshot %s\ntext 张\nkey Return\nstate\nquit\n"
                       % os.path.join(work, "browser.png"),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=120, env=dict(os.environ, SDL_VIDEODRIVER="offscreen"))
    s = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    nl.check(len(s) == 2 and s[0]["studies"] == 6 and s[0]["dates"] == dates and
             s[0]["thumbnails"] == 6 and
             s[1]["mode"] == "viewer" and s[1]["slices"] == len(ct),
             "--archive lists the same 6 studies from the index with %s "
             "thumbnails and opens the CT's %s slices from the archive's files"
             % (s[0]["thumbnails"] if s else "?", s[1]["slices"] if len(s) == 2 else "?"))
    # the same from the archive: Shift+Enter puts the other study beside
    sa, out = run_view(view, ["--archive", storage],
                       ["wait", "text 张", "key Return", "state", "key b",
                        "key BackSpace", "text wang", "key Return shift", "state",
                        "quit"], dict(os.environ))
    ok = len(sa) == 2
    nl.check(ok and sa[1]["viewport_series"][:-1] == sa[0]["viewport_series"] and
             sa[1]["viewport_series"][-1] in wang_series,
             "--archive: Shift+Enter opens the other study beside: %s"
             % (sa[1]["viewport_series"] if ok else out[-300:]))
    # beside a CT read with S on, a prior CT of another Frame of Reference
    # 20 mm off: scrolling the prior moves the CT by the same distance (the
    # prior's start was never taken: the CT jumped)
    prior = os.path.join(work, "prior")
    os.makedirs(prior)
    quid, qser, qfor = (pydicom.uid.generate_uid() for _ in range(3))
    for k, f in enumerate(ct):
        ds = pydicom.dcmread(f)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = quid, qser
        ds.FrameOfReferenceUID = qfor
        ds.PatientName, ds.PatientID = "Prior^Exam", "PRIOR1"
        ds.ImagePositionPatient[2] = float(ds.ImagePositionPatient[2]) + 20
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = \
            pydicom.uid.generate_uid()
        ds.save_as(os.path.join(prior, "%02d.dcm" % k), write_like_original=False)
    nl.run(["storescu", "+sd", "-aec", "CONSORT", "127.0.0.1", str(port), prior],
           check_rc=0)
    sp, out = run_view(view, ["--archive", storage],
                       ["wait", "text 张", "key Return", "wait", "key s", "state",
                        "key b", "key BackSpace", "text prior", "key Return shift",
                        "wait", "state", "key Down", "state", "quit"], dict(os.environ))
    ok = len(sp) == 3
    pos = [x["viewport_positions"] for x in sp] if ok else []
    # the CT's study holds the one-image series sent late too
    moved = [pos[2][i] - pos[1][i] for i in (0, -1)] if ok and len(pos[2]) > 1 else []
    nl.check(ok and sp[0]["sync"] == 1 and sp[1]["viewport_series"][-1] == qser and
             sp[1]["active"] == len(pos[1]) - 1 and len(moved) == 2 and moved[1] != 0 and
             abs(moved[0] - moved[1]) < 0.01,
             "S on before the prior came: scrolling it %s mm moves the CT by the "
             "same distance (%s mm)" % (moved[1] if moved else "?",
                                        moved[0] if moved else "?"))
    nl.run([node, "delete", "--study", quid, "--yes", "--storage", storage], check_rc=0)
    # a study opened from the browser can be annotated and reported in
    # words: text input is on while a text mark or the report takes it
    # (leaving the browser turned it off for good: typed text never came)
    # and off otherwise (an input method would take the tool letters)
    p = subprocess.run([view, "--size", "900x500", "--script", "-", "--archive",
                        storage],
                       input="wait\ntext 张\nkey Return\nwait\nstate\nkey t\n"
                       "click 450 250\nstate\ntext 肿块\nkey Return\nstate\n"
                       "key r ctrl\ntext 未见异常\nstate\nquit\n",
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=120, env=dict(os.environ, SDL_VIDEODRIVER="offscreen"))
    s = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    texts = [a.get("label") for a in s[2]["annotations"]] if len(s) == 4 else None
    nl.check(len(s) == 4 and [x.get("text_input") for x in s] == [0, 1, 0, 1] and
             texts == ["肿块"] and s[3]["report_open"] == 1,
             "opened from the browser: text input %s (off, on for the text "
             "mark, off, on for the report), the mark's words %s" % (
                 [x.get("text_input") for x in s], texts))
    rc = srv.stop()
    nl.check(rc == 0, "node stopped cleanly")
    # the node out of reach: the browser lists this viewer's cache (the
    # study kept its row of the node's list; the other, cached without
    # one, is read from its file) and opens a study from it
    s4, out = run_view(view, node_args,
                       ["state", "text wang", "key Return", "wait", "state", "quit"],
                       view_env)
    nl.check(len(s4) == 2 and s4[0]["mode"] == "browser" and s4[0]["studies"] == 2 and
             s4[0]["status"] == "message" and
             sorted(n.split("=")[0] for n in s4[0]["names"]) == ["WANG^WEI0",
                                                                 "Zhang^San"] and
             s4[1]["mode"] == "viewer" and s4[1]["slices"] >= 1,
             "the node down: the browser lists the 2 studies of the cache (%s) "
             "and opens one" % (s4[0]["names"] if s4 else out[-300:]))
    # another user's viewer (a desktop session beside the node's service
    # account) reads the stopped node's archive with no write access to
    # it: the index opens read-only and nothing is written beside it
    if os.geteuid() == 0 and shutil.which("runuser"):
        index = os.path.join(storage, "index.sqlite")
        before = (sorted(os.listdir(storage)), hashlib.sha256(open(index, "rb").read()).hexdigest())
        p = subprocess.run(["runuser", "-u", "nobody", "--", view, "--size",
                            "900x500", "--script", "-", "--archive", storage],
                           input="wait\nstate\nquit\n", stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=120,
                           env=dict(os.environ, SDL_VIDEODRIVER="offscreen",
                                    HOME="/tmp"))
        s = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
        after = (sorted(os.listdir(storage)), hashlib.sha256(open(index, "rb").read()).hexdigest())
        nl.check(len(s) == 1 and s[0]["studies"] == 6 and after == before,
                 "user nobody's --archive lists the 6 studies of the stopped "
                 "node read-only, and the storage folder is unchanged%s"
                 % ("" if len(s) == 1 else ": " + p.stdout[-500:]))
    else:
        print("skip: the read-only --archive check needs root (runuser)")
    print("view_browser: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
