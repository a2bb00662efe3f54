#!/bin/sh
systemctl stop httpd || true
