"""TorchVision's gallery "Optical Flow: Predicting movement with the RAFT model", as a user copies it:
frames from read_video, the weights' own transforms, raft_large, flow_to_image. Smaller frames
(128x128, the smallest RAFT takes) than the tutorial's 520x960 keep it quick on a CPU."""
import os

import numpy as np
import torch
import torchvision.transforms.functional as F
from torchvision.io import decode_jpeg, read_file, read_video, write_jpeg
from torchvision.models.optical_flow import Raft_Large_Weights, raft_large
from torchvision.utils import flow_to_image

RTOL = 2e-3


def main(state_dir):
    video_path = os.path.join(state_dir, "basketball.mp4")
    frames, _, _ = read_video(str(video_path), output_format="TCHW", pts_unit="sec")
    img1_batch = torch.stack([frames[2], frames[6]])
    img2_batch = torch.stack([frames[3], frames[7]])
    print(f"frames = {tuple(frames.shape)} {frames.dtype}")

    weights = Raft_Large_Weights.DEFAULT
    transforms = weights.transforms()

    def preprocess(img1_batch, img2_batch):
        img1_batch = F.resize(img1_batch, size=[128, 128], antialias=False)
        img2_batch = F.resize(img2_batch, size=[128, 128], antialias=False)
        return transforms(img1_batch, img2_batch)

    img1_batch, img2_batch = preprocess(img1_batch, img2_batch)
    print(f"shape = {img1_batch.shape}, dtype = {img1_batch.dtype}")

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = raft_large(weights=Raft_Large_Weights.DEFAULT, progress=False).to(device)
    model = model.eval()

    with torch.no_grad():
        list_of_flows = model(img1_batch.to(device), img2_batch.to(device), num_flow_updates=4)
    print(f"type = {type(list_of_flows)}")
    print(f"length = {len(list_of_flows)} = number of iterations of the model")

    predicted_flows = list_of_flows[-1]
    print(f"dtype = {predicted_flows.dtype}")
    print(f"shape = {predicted_flows.shape} = (N, 2, H, W)")

    flow_imgs = flow_to_image(predicted_flows)
    print(f"flow images = {tuple(flow_imgs.shape)} {flow_imgs.dtype}")
    img1_batch = [(img1 + 1) / 2 for img1 in img1_batch]
    grid = [[img1, flow_img] for (img1, flow_img) in zip(img1_batch, flow_imgs)]
    # The tutorial's plot(): each cell through to_pil_image; and its last step writes the flows as JPEGs.
    pils = [[F.to_pil_image(img.to("cpu")) for img in row] for row in grid]
    print([[(p.mode, p.size) for p in row] for row in pils])
    out_path = os.path.join(state_dir, f"predicted_flow_{torch.__name__}.jpg")
    write_jpeg(flow_imgs[0].to("cpu"), out_path)
    decoded = decode_jpeg(read_file(out_path))
    print(f"jpeg = {tuple(decoded.shape)} {decoded.dtype}")
    return {"inputs": np.stack([img.cpu().numpy() for img in img1_batch]),
            "flows": [f.cpu().numpy() for f in list_of_flows],
            "flow_images": flow_imgs.cpu().numpy().astype(np.float64), "grid": len(grid),
            "pil_images": np.stack([np.asarray(p, dtype=np.float64) for row in pils for p in row])}
