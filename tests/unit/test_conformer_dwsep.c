// test_conformer.c on the dwsep4 front-end's PyTorch fixture
// (tests/fixtures/make_conformer_fixtures.py dwsep4): Conv2d 3x3/2 + ReLU, then
// a depthwise Conv2d 3x3/2 (groups = C) + a pointwise 1x1 Conv2d + ReLU.
#define FIXTURE "tests/fixtures/conformer/tiny_dwsep4.bin"
#include "test_conformer.c"
