#!/usr/bin/env bash
# The system libraries the Python packages need that pip cannot install: WeasyPrint (the PDFs
# of proposals, proposals/pdf) loads Pango and HarfBuzz through cffi and needs a font.
# On Debian/Ubuntu, as root, the missing ones are installed; elsewhere this says what to add.
set -euo pipefail
PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core)

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "Not a Debian system: install Pango (>= 1.44), HarfBuzz and a font for WeasyPrint" \
        "(https://doc.courtbouillon.org/weasyprint/stable/first_steps.html)." >&2
    exit 0
fi
missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "Missing system packages for PDFs: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "Installing system packages for PDFs: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
