"""Writes 300 raw Fashion-MNIST images per class (classes 0,2,4,6,7,9) as 784 pixel features in [0,1]."""
import gzip, struct, sys
import numpy as np

def idx(name):
    with gzip.open('/usr/share/datasets/fashion-mnist/' + name) as f:
        magic = struct.unpack('>I', f.read(4))[0]
        dims = struct.unpack('>' + 'I' * (magic & 0xFF), f.read(4 * (magic & 0xFF)))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)

out = sys.argv[1]
for split, prefix in (('train', 'train'), ('test', 't10k')):
    X, Y = idx(prefix + '-images-idx3-ubyte.gz'), idx(prefix + '-labels-idx1-ubyte.gz')
    rng = np.random.default_rng(3)
    with open(f'{out}/px-{split}.txt', 'w') as f:
        for k, c in enumerate([0, 2, 4, 6, 7, 9]):
            ids = np.where(Y == c)[0]
            rng.shuffle(ids)
            for i in ids[:300]:
                f.write(str(k) + ' ' + ' '.join('%.4f' % (v / 255) for v in X[i].ravel()) + '\n')
