"""A small SVG chart writer for the benchmark plots (standard library only): points and lines
on linear or log-10 axes, with ticks, axis labels and a legend. Used by benches/bench.py."""

import math
from xml.sax.saxutils import escape

W, H = 720, 440
LEFT, RIGHT, TOP, BOTTOM = 70, 190, 40, 60
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]


def nice_ticks(lo, hi, count=6):
    """Round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    first = math.floor(lo / step + 1e-9) * step
    last = math.ceil(hi / step - 1e-9) * step
    count = int(round((last - first) / step))
    return [round(first + i * step, 10) for i in range(count + 1)]


def fmt(v):
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if float(v).is_integer():
        return f"{v:.0f}"
    return f"{v:g}"


def chart(path, title, xlabel, ylabel, series, xlog=False, xlim=None, ylim=None, note=None):
    """Writes an SVG to `path`. `series`: [{"name", "points": [(x, y)], "kind": "points" | "line",
    "color" (optional), "dash" (optional)}]."""
    pts = [p for s in series for p in s["points"] if p[0] is not None and p[1] is not None]
    if not pts:
        return False
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    if xlog:
        lx0, lx1 = xlim or (10 ** math.floor(math.log10(min(xs))), 10 ** math.ceil(math.log10(max(xs))))
        if lx1 <= lx0:
            lx1 = lx0 * 10
        xticks = [10 ** e for e in range(round(math.log10(lx0)), round(math.log10(lx1)) + 1)]
        fx = lambda x: (math.log10(x) - math.log10(lx0)) / (math.log10(lx1) - math.log10(lx0))
    else:
        x0, x1 = xlim or (min(xs), max(xs))
        xticks = nice_ticks(x0, x1)
        x0, x1 = min(x0, xticks[0]), max(x1, xticks[-1])
        fx = lambda x: (x - x0) / ((x1 - x0) or 1)
    y0, y1 = ylim or (min(0, min(ys)), max(ys) * 1.05 if max(ys) > 0 else 1)
    yticks = nice_ticks(y0, y1)
    y0, y1 = min(y0, yticks[0]), max(y1, yticks[-1])
    fy = lambda y: (y - y0) / ((y1 - y0) or 1)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    px = lambda x: LEFT + fx(x) * pw
    py = lambda y: TOP + (1 - fy(y)) * ph

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
         'font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2:.0f}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>']
    for t in xticks:
        x = px(t)
        o.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + ph}" stroke="#e5e5e5"/>')
        o.append(f'<text x="{x:.1f}" y="{TOP + ph + 16}" text-anchor="middle">{escape(fmt(t))}</text>')
    for t in yticks:
        y = py(t)
        o.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + pw}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        o.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt(t))}</text>')
    o.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
    o.append(f'<text x="{LEFT + pw / 2:.0f}" y="{H - 18}" text-anchor="middle">{escape(xlabel)}</text>')
    o.append(f'<text transform="translate(18,{TOP + ph / 2:.0f}) rotate(-90)" text-anchor="middle">'
             f'{escape(ylabel)}</text>')
    for i, s in enumerate(series):
        color = s.get("color", COLORS[i % len(COLORS)])
        spts = [(x, y) for x, y in s["points"] if x is not None and y is not None]
        if s.get("kind") == "line":
            d = " ".join(f"{'M' if j == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for j, (x, y) in enumerate(spts))
            dash = f' stroke-dasharray="{s["dash"]}"' if s.get("dash") else ""
            o.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
            if s.get("markers"):
                for x, y in spts:
                    o.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{color}"/>')
        else:
            for x, y in spts:
                o.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{color}" fill-opacity="0.75"/>')
        ly = TOP + 10 + i * 20
        lx = LEFT + pw + 14
        if s.get("kind") == "line":
            dash = f' stroke-dasharray="{s["dash"]}"' if s.get("dash") else ""
            o.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 18}" y2="{ly}" stroke="{color}" stroke-width="2"{dash}/>')
        else:
            o.append(f'<circle cx="{lx + 9}" cy="{ly}" r="4" fill="{color}"/>')
        o.append(f'<text x="{lx + 24}" y="{ly + 4}">{escape(s["name"])}</text>')
    if note:
        for j, line in enumerate(note.split("\n")):
            o.append(f'<text x="{LEFT + pw + 14}" y="{TOP + ph - 40 + j * 15}" font-size="10" fill="#555">'
                     f'{escape(line)}</text>')
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")
    return True
