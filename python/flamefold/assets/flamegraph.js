// flamefold's flame graph viewer: click to zoom, regex search, details line, state in the URL.
// The drawing is plain SVG; this only reacts to the reader. `fg_config` is written before it.
"use strict";
var fg = {
  frames: [],      // {g, rect, text, name, info, x, y, w, h, fill}
  byG: null,       // frame group -> frame
  zoomed: null,    // the frame zoomed into, or null
  term: null,      // the active search, or null
  ignorecase: false,
  matched: 0       // percentage of the samples under matching frames
};

function init(evt) {
  var c = fg_config, root = document.getElementById("frames");
  fg.svg = root.ownerSVGElement;
  fg.width = parseFloat(fg.svg.getAttribute("width"));
  fg.xpad = c.xpad; fg.fontsize = c.fontsize; fg.fontwidth = c.fontwidth;
  fg.inverted = c.inverted; fg.searchcolor = c.searchcolor; fg.nametype = c.nametype;
  fg.truncateLeft = c.truncateLeft;
  fg.details = document.getElementById("details");
  fg.searchbtn = document.getElementById("search");
  fg.icbtn = document.getElementById("ignorecase");
  fg.unzoombtn = document.getElementById("unzoom");
  fg.matchedtxt = document.getElementById("matched");
  fg.byG = new Map();
  var groups = root.children;
  for (var i = 0; i < groups.length; i++) {
    var g = groups[i], rect = g.querySelector("rect"), title = g.querySelector("title");
    if (!rect || !title) continue;
    var info = title.textContent, cut = info.lastIndexOf(" (");
    var f = {
      g: g, rect: rect, text: g.querySelector("text"), info: info,
      name: cut >= 0 ? info.slice(0, cut) : info,
      x: parseFloat(rect.getAttribute("x")), y: parseFloat(rect.getAttribute("y")),
      w: parseFloat(rect.getAttribute("width")), h: parseFloat(rect.getAttribute("height")),
      ox: rect.getAttribute("x"), oy: rect.getAttribute("y"), fill: rect.getAttribute("fill")
    };
    fg.frames.push(f);
    fg.byG.set(g, f);
  }
  fg.total = fg.frames.reduce(function (m, f) { return Math.max(m, f.w); }, 0) || 1;

  root.addEventListener("click", function (e) {
    var f = frameOf(e.target);
    if (!f) return;
    if (e.target.closest && e.target.closest("a") && !e.ctrlKey) return; // a link (--nameattr href)
    e.preventDefault();
    zoom(f);
  });
  root.addEventListener("mouseover", function (e) {
    var f = frameOf(e.target);
    if (f) setText(fg.details, fg.nametype + " " + f.info);
  });
  root.addEventListener("mouseout", function (e) {
    if (frameOf(e.target)) setText(fg.details, " ");
  });
  fg.unzoombtn.addEventListener("click", function () { unzoom(); });
  fg.searchbtn.addEventListener("click", function () {
    if (fg.term === null) searchPrompt(); else resetSearch();
  });
  fg.icbtn.addEventListener("click", toggleIgnorecase);
  window.addEventListener("keydown", function (e) {
    if (e.key === "F3" || ((e.ctrlKey || e.metaKey) && (e.key === "f" || e.key === "F"))) {
      e.preventDefault();
      searchPrompt();
    } else if (e.ctrlKey && (e.key === "i" || e.key === "I")) {
      e.preventDefault();
      toggleIgnorecase();
    }
  });

  // a link reopens the same view: ?x=..&y=.. (the zoomed frame), &s=.. (the search)
  var params = new URLSearchParams(window.location.search);
  if (params.get("x") !== null && params.get("y") !== null) {
    var px = parseFloat(params.get("x")), py = parseFloat(params.get("y"));
    for (var k = 0; k < fg.frames.length; k++) {
      var fr = fg.frames[k];
      if (Math.abs(fr.x - px) < 0.05 && Math.abs(fr.y - py) < 0.05) { zoom(fr); break; }
    }
  }
  if (params.get("s")) search(params.get("s"));
}

function frameOf(el) {
  while (el && el.parentNode) {
    if (el.parentNode.id === "frames") return fg.byG.get(el) || null;
    el = el.parentNode;
  }
  return null;
}

function setText(el, s) { el.textContent = s; }

function saveState() {
  try {
    var params = new URLSearchParams(window.location.search);
    if (fg.zoomed && fg.zoomed !== fg.frames[0]) {
      params.set("x", fg.zoomed.ox); params.set("y", fg.zoomed.oy);
    } else {
      params.delete("x"); params.delete("y");
    }
    if (fg.term !== null) params.set("s", fg.term); else params.delete("s");
    var q = params.toString();
    history.replaceState(null, "", window.location.pathname + (q ? "?" + q : "") + window.location.hash);
  } catch (err) {
    // no history here (a sandboxed frame): the view just is not kept in the URL
  }
}

// The label that fits `w` pixels: flamegraph.pl's rule (at least 3 characters, else none).
function label(f, w) {
  var chars = Math.floor(w / (fg.fontsize * fg.fontwidth));
  if (chars < 3) return "";
  var name = f.name;
  if (name.length <= chars) return name;
  return fg.truncateLeft ? ".." + name.slice(name.length - chars + 2) : name.slice(0, chars - 2) + "..";
}

function place(f, x, w) {
  f.rect.setAttribute("x", x.toFixed(1));
  f.rect.setAttribute("width", w.toFixed(1));
  var s = label(f, w);
  if (!f.text && s === "") return;
  if (!f.text) {
    f.text = document.createElementNS("http://www.w3.org/2000/svg", "text");
    f.text.setAttribute("y", (f.y + f.h / 2 + 3).toString());
    f.rect.parentNode.appendChild(f.text);
  }
  f.text.setAttribute("x", (x + 3).toFixed(2));
  f.text.textContent = s;
}

function show(f, cls) {
  f.g.classList.remove("hide");
  f.g.classList.toggle("parent", cls === "parent");
}

function zoom(target) {
  if (target === fg.frames[0]) { unzoom(); return; }
  var full = fg.width - 2 * fg.xpad, ratio = full / target.w, fudge = 0.0001;
  var x0 = target.x, x1 = target.x + target.w;
  for (var i = 0; i < fg.frames.length; i++) {
    var f = fg.frames[i];
    var ancestorSide = fg.inverted ? f.y < target.y : f.y > target.y;
    if (ancestorSide) {
      if (f.x <= x0 + fudge && f.x + f.w >= x1 - fudge) {
        show(f, "parent");
        place(f, fg.xpad, full);
      } else {
        f.g.classList.add("hide");
      }
    } else if (f.x >= x0 - fudge && f.x + f.w <= x1 + fudge && (f.w > 0 || f.x < x1)) {
      show(f, "");
      place(f, fg.xpad + (f.x - x0) * ratio, f.w * ratio);
    } else {
      f.g.classList.add("hide");
    }
  }
  fg.zoomed = target;
  fg.unzoombtn.classList.remove("hide");
  saveState();
}

function unzoom() {
  for (var i = 0; i < fg.frames.length; i++) {
    var f = fg.frames[i];
    show(f, "");
    place(f, f.x, f.w);
  }
  fg.zoomed = null;
  fg.unzoombtn.classList.add("hide");
  saveState();
}

function toggleIgnorecase() {
  fg.ignorecase = !fg.ignorecase;
  fg.icbtn.classList.toggle("show", fg.ignorecase);
  if (fg.term !== null) search(fg.term);
}

function searchPrompt() {
  var term = prompt("Enter a search term (regexp allowed, eg: ^ext4_)" +
    (fg.ignorecase ? ", ignoring case" : "") + "\nPress Ctrl-i to toggle case sensitivity", fg.term || "");
  if (term !== null && term !== "") search(term);
}

function clearHighlight() {
  for (var i = 0; i < fg.frames.length; i++) {
    var f = fg.frames[i];
    if (f.hit) { f.rect.setAttribute("fill", f.fill); f.hit = false; }
  }
}

function search(term) {
  var re;
  try {
    re = new RegExp(term, fg.ignorecase ? "i" : "");
  } catch (err) {
    clearHighlight();
    fg.term = null;
    setText(fg.matchedtxt, "Invalid regex: " + term);
    return;
  }
  clearHighlight();
  var hits = [];
  for (var i = 0; i < fg.frames.length; i++) {
    var f = fg.frames[i];
    if (re.test(f.name)) {
      f.hit = true;
      f.rect.setAttribute("fill", fg.searchcolor);
      hits.push(f);
    }
  }
  // samples under matching frames, a match inside another counted once
  hits.sort(function (a, b) { return a.x - b.x || b.w - a.w; });
  var sum = 0, end = -Infinity;
  for (var k = 0; k < hits.length; k++) {
    if (hits[k].x >= end - 0.0001) { sum += hits[k].w; end = hits[k].x + hits[k].w; }
  }
  fg.term = term;
  fg.matched = 100 * sum / fg.total;
  fg.searchbtn.classList.add("show");
  setText(fg.searchbtn, "Reset Search");
  var pct = sum >= fg.total ? "100" : fg.matched.toFixed(1);
  setText(fg.matchedtxt, "Matched: " + pct + "%");
  saveState();
}

function resetSearch() {
  clearHighlight();
  fg.term = null;
  fg.searchbtn.classList.remove("show");
  setText(fg.searchbtn, "Search");
  setText(fg.matchedtxt, " ");
  saveState();
}

// Linked views: inside a page that shows several graphs (flamefold diff --html), zooming,
// searching and hovering here is posted to the page, which passes it to the other graphs;
// frames are matched by their call path (names from the root), not by their place.
(function () {
  if (window.parent === window) return;
  var linking = false, byPath = null, linked = null;
  function post(msg) { if (!linking) { msg.fg = msg.fg || "?"; window.parent.postMessage(msg, "*"); } }
  function paths() {
    if (byPath) return byPath;
    byPath = new Map();
    var root = fg.frames.reduce(function (a, f) { return f.w > a.w ? f : a; }, fg.frames[0]);
    var levels = [];
    fg.frames.forEach(function (f) {
      var lv = Math.round((fg.inverted ? f.y - root.y : root.y - f.y) / root.h);
      f.level = lv;
      (levels[lv] = levels[lv] || []).push(f);
    });
    levels.forEach(function (l) { if (l) l.sort(function (a, b) { return a.x - b.x; }); });
    for (var lv = 0; lv < levels.length; lv++) {
      (levels[lv] || []).forEach(function (f) {
        var parent = null, up = levels[lv - 1] || [];
        for (var lo = 0, hi = up.length - 1; lo <= hi;) {
          var mid = (lo + hi) >> 1;
          if (up[mid].x <= f.x + 0.0001) { parent = up[mid]; lo = mid + 1; } else { hi = mid - 1; }
        }
        f.path = (parent && parent.path !== undefined ? parent.path + "\n" : "") + f.name;
        byPath.set(f.path, f);
      });
    }
    return byPath;
  }
  function find(path) {
    var map = paths();
    while (path) {
      if (map.has(path)) return map.get(path);
      var cut = path.lastIndexOf("\n");
      path = cut < 0 ? "" : path.slice(0, cut); // the deepest ancestor this graph has
    }
    return null;
  }
  var orig = { init: init, zoom: zoom, unzoom: unzoom, search: search, resetSearch: resetSearch };
  zoom = function (t) { orig.zoom(t); paths(); post({ fg: "zoom", path: t.path }); };
  unzoom = function () { orig.unzoom(); post({ fg: "unzoom" }); };
  search = function (term) { orig.search(term); if (fg.term !== null) post({ fg: "search", term: term, ignorecase: fg.ignorecase }); };
  resetSearch = function () { orig.resetSearch(); post({ fg: "reset" }); };
  init = function (evt) {
    orig.init(evt);
    var root = document.getElementById("frames");
    root.addEventListener("mouseover", function (e) { var f = frameOf(e.target); if (f) { paths(); post({ fg: "hover", path: f.path }); } });
    root.addEventListener("mouseout", function (e) { if (frameOf(e.target)) post({ fg: "hover", path: null }); });
    window.addEventListener("message", function (e) {
      var m = e.data;
      if (!m || typeof m.fg !== "string") return;
      linking = true;
      try {
        if (m.fg === "zoom") { var f = find(m.path); if (f) zoom(f); }
        else if (m.fg === "unzoom") unzoom();
        else if (m.fg === "search") { fg.ignorecase = !!m.ignorecase; fg.icbtn.classList.toggle("show", fg.ignorecase); search(m.term); }
        else if (m.fg === "reset") resetSearch();
        else if (m.fg === "hover") {
          if (linked) linked.g.classList.remove("linked");
          linked = m.path ? find(m.path) : null;
          if (linked && linked.path === m.path) { linked.g.classList.add("linked"); setText(fg.details, fg.nametype + " " + linked.info); }
          else { linked = null; setText(fg.details, " "); }
        }
      } finally { linking = false; }
    });
    window.parent.postMessage({ fg: "ready" }, "*");
  };
})();
