#!/bin/sh
# CodeDeploy fails the instance (and, past the minimum healthy hosts, the
# deployment) when the page does not answer.
for i in 1 2 3 4 5 6 7 8 9 10; do
  curl -fsS http://localhost/ | grep -q "catalog service: ok" && exit 0
  sleep 3
done
exit 1
