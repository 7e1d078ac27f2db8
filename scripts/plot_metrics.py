"""Draw training curves (loss and accuracy per epoch) as a PNG with Pillow, no plotting library needed.

    python scripts/plot_metrics.py runs/pets/metrics.csv runs/pets/metrics.png
"""
import csv
import math
import sys

from PIL import Image, ImageDraw, ImageFont

COLORS = {"train_loss": (31, 119, 180), "val_loss": (255, 127, 14), "train_acc": (31, 119, 180),
          "val_acc": (255, 127, 14), "val_acc_ema": (44, 160, 44)}
PANELS = [("loss", ["train_loss", "val_loss"]), ("accuracy", ["train_acc", "val_acc", "val_acc_ema"])]
CYCLE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]


def _nice_ticks(lo, hi, count=5):
    """About ``count`` round tick values covering ``[lo, hi]``."""
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0) * 0.1
    raw = (hi - lo) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if step * m >= raw)
    first = math.floor(lo / step) * step
    ticks, t = [], first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 10))
        t += step
    if ticks[-1] < hi:
        ticks.append(round(t, 10))
    return ticks


def _panel(draw, box, title, series, epochs, font):
    """One chart in ``box`` = (left, top, right, bottom): axes, ticks, grid, one line per series, legend."""
    left, top, right, bottom = box
    x0, y0, x1, y1 = left + 50, top + 24, right - 10, bottom - 30
    values = [v for _, ys in series for v in ys if v is not None]
    if not values:
        return
    ticks = _nice_ticks(min(values), max(values))
    lo, hi = ticks[0], ticks[-1]
    e_lo, e_hi = min(epochs), max(epochs)
    e_span = max(1, e_hi - e_lo)

    def px(epoch, value):
        return (x0 + (x1 - x0) * (epoch - e_lo) / e_span, y1 - (y1 - y0) * (value - lo) / (hi - lo))

    draw.text((x0, top + 4), title, fill=(0, 0, 0), font=font)
    for t in ticks:
        y = px(e_lo, t)[1]
        draw.line([(x0, y), (x1, y)], fill=(225, 225, 225))
        draw.text((left + 4, y - 6), f"{t:.3g}", fill=(60, 60, 60), font=font)
    step = max(1, round(e_span / 10))
    for e in range(e_lo, e_hi + 1, step):
        x = px(e, lo)[0]
        draw.line([(x, y1), (x, y1 + 4)], fill=(0, 0, 0))
        draw.text((x - 4, y1 + 6), str(e), fill=(60, 60, 60), font=font)
    draw.text(((x0 + x1) / 2 - 15, y1 + 16), "epoch", fill=(60, 60, 60), font=font)
    draw.rectangle([x0, y0, x1, y1], outline=(0, 0, 0))
    # Columns without a colour of their own take the next one of a fixed cycle.
    legend = [(name, COLORS.get(name, CYCLE[i % len(CYCLE)])) for i, (name, _) in enumerate(series)]
    for (_, ys), (_, color) in zip(series, legend):
        points = [px(e, v) for e, v in zip(epochs, ys) if v is not None]
        if len(points) > 1:
            draw.line(points, fill=color, width=2)
        for x, y in points:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=color)
    # Legend in a boxed corner, drawn last so the curves never hide it.
    draw.rectangle([x1 - 116, y0 + 3, x1 - 3, y0 + 8 + 14 * len(legend)], fill="white",
                   outline=(160, 160, 160))
    for i, (name, color) in enumerate(legend):
        ly = y0 + 6 + 14 * i
        draw.line([(x1 - 110, ly + 5), (x1 - 92, ly + 5)], fill=color, width=2)
        draw.text((x1 - 88, ly), name, fill=(0, 0, 0), font=font)


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def plot_metrics(rows, path, title="", panels=PANELS):
    """Write a PNG with a loss panel and an accuracy panel from metric ``rows`` (dicts as in metrics.csv);
    ``panels`` (``[(title, [column, ...]), ...]``) picks other columns, one panel per entry."""
    width, height = 1000, 420
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    if title:
        draw.text((10, 6), title, fill=(0, 0, 0), font=font)
    epochs = [int(r["epoch"]) for r in rows]
    if epochs:
        for i, (panel_title, names) in enumerate(panels):
            series = [(n, [_number(r.get(n)) for r in rows]) for n in names]
            series = [(n, ys) for n, ys in series if any(v is not None for v in ys)]
            box = (i * width // len(panels), 20, (i + 1) * width // len(panels), height)
            _panel(draw, box, panel_title, series, epochs, font)
    img.save(path)
    return path


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0], newline="") as f:
        plot_metrics(list(csv.DictReader(f)), argv[1], title=argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
