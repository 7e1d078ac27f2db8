"""Sphinx extension: pages written from the code when the build starts.

The dataset reference lists every name of ``visionlite.datasets.__all__`` (its classes load lazily, so
autodoc cannot find them by itself), and the model pages come from the weights registry.

For every task (classification, detection, segmentation, video, optical flow) one page lists each builder
with its signature line and a table of its weights: metrics, parameters, file size, GFLOPS, recipe, and the
weights' own note (``meta["_docs"]``). The pages go to ``docs/models/_generated/`` (not committed): the
registry is their only source, so they cannot drift from it.
"""
import os

_TASKS = {  # builder module -> (page name, title)
    "visionlite.models": ("classification", "Classification"),
    "visionlite.models.detection": ("detection", "Object detection, instance segmentation and keypoints"),
    "visionlite.models.segmentation": ("segmentation", "Semantic segmentation"),
    "visionlite.models.video": ("video", "Video classification"),
    "visionlite.models.optical_flow": ("optical_flow", "Optical flow"),
}


def _task_of(builder):
    package = builder.__module__.rsplit(".", 1)[0]
    return _TASKS.get(package, ("other", "Other models"))


def _metrics(meta):
    parts = []
    for dataset, values in (meta.get("_metrics") or {}).items():
        shown = ", ".join(f"{k} {v}" for k, v in values.items())
        parts.append(f"{dataset}: {shown}")
    return "; ".join(parts) or "--"


def _cell(text):
    return str(text).replace("\n", " ").replace("|", "\\|")


def _weights_table(enum):
    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 22 34 12 10 8 14", "",
             "   * - Weights", "     - Metrics", "     - Params", "     - File (MB)", "     - GFLOPS",
             "     - Recipe"]
    for member in enum:
        meta = member.meta
        default = " (DEFAULT)" if member is getattr(enum, "DEFAULT", None) else ""
        recipe = meta.get("recipe")
        lines += [f"   * - ``{enum.__name__}.{member.name}``{default}",
                  f"     - {_cell(_metrics(meta))}",
                  f"     - {meta.get('num_params', 0):,}",
                  f"     - {meta.get('_file_size', '--')}",
                  f"     - {meta.get('_ops', '--')}",
                  f"     - `link <{recipe}>`__" if recipe else "     - --"]
    lines.append("")
    for member in enum:
        note = member.meta.get("_docs")
        if note:
            lines += [f"``{member.name}``: " + " ".join(note.split()), ""]
    return lines


def write_pages(out_dir):
    """Write one ``.rst`` per task into ``out_dir``; returns the page names written."""
    from visionlite.models import get_model_builder, get_model_weights, list_models

    pages = {}
    for name in list_models():
        builder = get_model_builder(name)
        pages.setdefault(_task_of(builder), []).append((name, builder))
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for (page, title), builders in sorted(pages.items()):
        lines = [title, "=" * len(title), "",
                 f"{len(builders)} builders. Each takes ``weights=`` (an enum member, its name as a string, "
                 "or ``None``) and ``progress=``; weights are downloaded once into the cache and verified "
                 "(see :doc:`/guide/weights`).", ""]
        for name, builder in sorted(builders):
            enum = get_model_weights(name)
            lines += [name, "-" * len(name), "",
                      f"``visionlite.models{builder.__module__[len('visionlite.models'):]}.{name}``"
                      f" with ``{enum.__name__}``.", ""]
            summary = (builder.__doc__ or "").strip().split("\n\n")[0]  # its first paragraph
            if summary:
                lines += [" ".join(summary.split()), ""]
            lines += _weights_table(enum)
        _write_if_changed(os.path.join(out_dir, f"{page}.rst"), "\n".join(lines) + "\n")
        written.append(page)
    return written


def write_dataset_reference(path):
    """An ``autoclass`` (or ``autofunction``) per public name of ``visionlite.datasets``."""
    import visionlite.datasets as ds

    lines = []
    for name in sorted(ds.__all__, key=str.lower):
        kind = "autoclass" if isinstance(getattr(ds, name), type) else "autofunction"
        lines += [f".. {kind}:: visionlite.datasets.{name}", ""]
    _write_if_changed(path, "\n".join(lines))


def _write_if_changed(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    old = open(path).read() if os.path.exists(path) else None
    if old != text:  # unchanged pages keep their time stamp: incremental builds stay incremental
        with open(path, "w") as f:
            f.write(text)


def _on_init(app):
    write_pages(os.path.join(app.srcdir, "models", "_generated"))
    write_dataset_reference(os.path.join(app.srcdir, "api", "_generated", "datasets.inc"))


def setup(app):
    app.connect("builder-inited", _on_init)
    return {"parallel_read_safe": True, "version": "1"}
