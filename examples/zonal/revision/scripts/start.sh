#!/bin/sh
set -e
command -v httpd >/dev/null || dnf install -y httpd
systemctl enable --now httpd
