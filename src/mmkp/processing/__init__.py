"""The processor saved beside a model's weights: how raw posts become the model's inputs."""
