"""Export pages to the formats training stacks read: Parquet, Hugging Face datasets, WebDataset
tar shards, a PNG folder. One sharded writer layer (shards.py) under all of them."""
