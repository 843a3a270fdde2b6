"""What a model is: the Hugging Face causal-LM loading and export, and the small CNN family."""
