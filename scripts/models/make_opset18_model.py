"""A small classifier written directly at ONNX opset 18 (the forms that changed there: ReduceMean axes as an input,
Split num_outputs, Pad with an axes input), random weights; test/any-cnn.test.ts checks it against onnxruntime-node.
Usage: /usr/bin/python3 scripts/models/make_opset18_model.py  (onnx's own checker may not know opset 18: not run)."""
import numpy as np
from onnx import TensorProto, helper, numpy_helper, save

rng = np.random.default_rng(18)
def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)

inits = [
    init('conv_w', (rng.standard_normal((8, 1, 3, 3)) * 0.4).astype(np.float32)),
    init('conv_b', (rng.standard_normal(8) * 0.1).astype(np.float32)),
    init('pads', np.array([1, 1, 1, 1], dtype=np.int64)),
    init('pad_axes', np.array([2, 3], dtype=np.int64)),
    init('mean_axes', np.array([2, 3], dtype=np.int64)),
    init('fc_w', (rng.standard_normal((10, 8)) * 0.5).astype(np.float32)),
    init('fc_b', (rng.standard_normal(10) * 0.1).astype(np.float32)),
]
nodes = [
    helper.make_node('Conv', ['x', 'conv_w', 'conv_b'], ['c'], name='/conv/Conv', kernel_shape=[3, 3], strides=[2, 2]),
    helper.make_node('Relu', ['c'], ['r'], name='/conv/Relu'),
    helper.make_node('Split', ['r'], ['s0', 's1'], name='/split/Split', axis=1, num_outputs=2),
    helper.make_node('Sigmoid', ['s1'], ['g'], name='/gate/Sigmoid'),
    helper.make_node('Mul', ['s0', 'g'], ['m'], name='/gate/Mul'),
    helper.make_node('Concat', ['m', 's1'], ['cat'], name='/cat/Concat', axis=1),
    helper.make_node('Pad', ['cat', 'pads', '', 'pad_axes'], ['p'], name='/pad/Pad', mode='constant'),
    helper.make_node('ReduceMean', ['p', 'mean_axes'], ['pooled'], name='/pool/ReduceMean', keepdims=0),
    helper.make_node('Gemm', ['pooled', 'fc_w', 'fc_b'], ['logits'], name='/fc/Gemm', transB=1),
    helper.make_node('Softmax', ['logits'], ['prob'], name='/Softmax'),
]
graph = helper.make_graph(nodes, 'opset18', [helper.make_tensor_value_info('x', TensorProto.FLOAT, ['N', 1, 28, 28])],
                          [helper.make_tensor_value_info('prob', TensorProto.FLOAT, ['N', 10])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 18)], producer_name='quant-inspector-tests')
model.ir_version = 8
save(model, 'test/fixtures/opsets/opset18.onnx')
print('wrote test/fixtures/opsets/opset18.onnx')
