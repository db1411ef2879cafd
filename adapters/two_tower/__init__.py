"""The PyTorch two-tower model: feature hashing, towers, training, serving."""
