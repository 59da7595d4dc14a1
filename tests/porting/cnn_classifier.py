"""A small CNN classifier on Fashion-MNIST, written as a PyTorch user writes one.

tests/porting/test_porting.py runs this file twice: as it is, on torch, and with its one
`import torch` line replaced by `import minigan as torch`. Nothing else in it may know which
framework it runs on.

    python tests/porting/cnn_classifier.py --seed 0 --steps 300 --out /tmp/cnn
"""
import argparse
import gzip
import json
import os

import numpy as np
import torch

nn = torch.nn
F = torch.nn.functional
DataLoader = torch.utils.data.DataLoader
TensorDataset = torch.utils.data.TensorDataset

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def read_idx(name, count):
    with gzip.open(os.path.join(FASHION_MNIST, name)) as f:
        raw = np.frombuffer(f.read(), dtype=np.uint8)
    header = 16 if "images" in name else 8
    values = raw[header:]
    return values.reshape(-1, 28, 28)[:count] if "images" in name else values[:count]


def fashion_mnist(split, count):
    images = read_idx(f"{split}-images-idx3-ubyte.gz", count).astype(np.float32) / 255.0
    labels = read_idx(f"{split}-labels-idx1-ubyte.gz", count).astype(np.int64)
    return TensorDataset(torch.from_numpy((images[:, None] - 0.286) / 0.353), torch.from_numpy(labels))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.dropout = nn.Dropout(0.25)
        self.fc1 = nn.Linear(32 * 7 * 7, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout(torch.flatten(x, 1))
        return self.fc2(F.relu(self.fc1(x)))


def evaluate(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            correct += (model(images).argmax(dim=1) == labels).sum().item()
            total += labels.size(0)
    return correct / total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    train = DataLoader(fashion_mnist("train", args.steps * args.batch_size), batch_size=args.batch_size,
                       shuffle=True, drop_last=True)
    test = DataLoader(fashion_mnist("t10k", 2000), batch_size=500)

    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=args.steps // 3, gamma=0.5)
    model.train()
    for images, labels in train:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        scheduler.step()

    os.makedirs(args.out, exist_ok=True)
    checkpoint = os.path.join(args.out, "model.pt")
    torch.save(model.state_dict(), checkpoint)
    restored = Net()
    restored.load_state_dict(torch.load(checkpoint))
    result = {"accuracy": evaluate(model, test), "restored_accuracy": evaluate(restored, test),
              "last_loss": loss.item(), "lr": scheduler.get_last_lr()[0]}
    with open(os.path.join(args.out, "result.json"), "w") as f:
        json.dump(result, f)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
