"""Video classification inference as TorchVision's model docs show it (r3d_18 with
R3D_18_Weights.DEFAULT, the weights' transforms, top categories), on a short clip read from disk."""
import os

import torch
from torchvision.io.video import read_video
from torchvision.models.video import R3D_18_Weights, r3d_18

RTOL = 1e-3


def main(state_dir):
    vid, _, _ = read_video(os.path.join(state_dir, "clip.mp4"), output_format="TCHW", pts_unit="sec")
    vid = vid[:8]  # optionally shorten duration

    # Step 1: Initialize model with the best available weights
    weights = R3D_18_Weights.DEFAULT
    model = r3d_18(weights=weights)
    model.eval()

    # Step 2: Initialize the inference transforms
    preprocess = weights.transforms()

    # Step 3: Apply inference preprocessing transforms
    batch = preprocess(vid).unsqueeze(0)
    print(f"batch = {tuple(batch.shape)} {batch.dtype}")

    # Step 4: Use the model and print the predicted category
    with torch.inference_mode():
        logits = model(batch)
    prediction = logits.squeeze(0).softmax(0)
    label = prediction.argmax().item()
    score = prediction[label].item()
    category_name = weights.meta["categories"][label]
    print(f"{category_name}: {100 * score:.3f}%")

    top5 = torch.topk(logits, 5, dim=1)
    names = [weights.meta["categories"][i] for i in top5.indices[0].tolist()]
    print("top-5:", ", ".join(names))
    return {"batch": batch.numpy(), "logits": logits.numpy(), "label": label,
            "top5": top5.indices[0].tolist(), "names": ", ".join(names),
            "num_categories": len(weights.meta["categories"])}
