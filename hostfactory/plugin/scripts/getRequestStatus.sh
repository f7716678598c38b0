#!/bin/bash
exec "${HF_PYTHON:-python3}" "$(dirname "$(readlink -f "$0")")/../client.py" getRequestStatus "$@"
