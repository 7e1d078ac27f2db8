"""Copy each registered weights entry's ``meta["_docs"]`` text from the installed TorchVision into
``models/weights.json`` (the model pages of the documentation print it beside accuracy and size).

Run after adding weights entries: ``python scripts/copy_weight_docs.py`` (needs torchvision importable).
Entries TorchVision does not know keep whatever they have.
"""
import inspect
import json
import os

REGISTRY = os.path.join(os.path.dirname(__file__), "..", "models", "weights.json")


def torchvision_docs(model, name):
    """The dedented ``_docs`` of TorchVision's ``model`` weights ``name``, or None."""
    import torchvision.models as tvm

    try:
        enum = tvm.get_model_weights(model)
    except (ValueError, KeyError):
        return None
    member = getattr(enum, name, None)
    text = member.meta.get("_docs") if member is not None else None
    return inspect.cleandoc(text) if text else None


def main():
    with open(REGISTRY) as f:
        registry = json.load(f)
    filled = 0
    for model, entries in registry["models"].items():
        for name, entry in entries.items():
            text = torchvision_docs(model, name)
            if text:
                entry["meta"]["_docs"] = text
                filled += 1
    tmp = REGISTRY + ".tmp"
    with open(tmp, "w") as f:
        json.dump(registry, f, indent=1)
        f.write("\n")
    os.replace(tmp, REGISTRY)
    print(f"{filled} weights entries carry TorchVision's _docs")


if __name__ == "__main__":
    main()
