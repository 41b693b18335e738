# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Both create .venv/ (once), install torch==2.13.0 (the CPU wheel; never an open range,
# which would pull a multi-GB CUDA build), then this package with its extras; `make test`
# adds the teleop extra (dex-retargeting, pinocchio) that the demo does not need.
# Where a ROS 2 distribution is sourced (ROS_DISTRO set) the venv sees the system
# site-packages (rclpy, messages) and the PyPI ROS wheels are NOT installed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
comma  := ,

ifdef ROS_DISTRO
  VENV_FLAGS := --system-site-packages
  EXTRAS     := dev$(comma)onnx$(comma)bags
else
  VENV_FLAGS :=
  EXTRAS     := ros$(comma)dev$(comma)onnx$(comma)bags
endif
TEST_EXTRAS := $(EXTRAS)$(comma)teleop

PYTEST_ARGS ?=

.PHONY: demo test venv clean

venv: $(STAMP)

$(STAMP): setup.py setup.cfg package.xml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(BIN)/python -m pip install --upgrade pip setuptools wheel
	$(BIN)/python -m pip install torch==2.13.0
	$(BIN)/python -m pip install -e '.[$(EXTRAS)]'
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install -e '.[$(TEST_EXTRAS)]'
	touch $@

demo: $(STAMP)
	$(BIN)/hand-pose demo

test: $(TEST_STAMP)
	$(BIN)/python -m pytest test $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build install log *.egg-info demo_output
