"""Phase 2: the multilayer perceptron in NumPy, vectorised over the batch.

network.py (initialisation, activations, forward, loss, backpropagation), data.py (the data
pipeline), train.py (SGD with momentum, the schedule, one step, evaluation, the loop),
gradcheck.py (backpropagation against finite differences). In float64 this is the specification
that the C and GPU trainers of Phase 5 are tested against.
"""
