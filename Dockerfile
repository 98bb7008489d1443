# Berth daemon image. Mount the manifests directory and the Docker socket:
#   docker run -v $PWD/manifests:/manifests:ro -v /var/run/docker.sock:/var/run/docker.sock berth validate /manifests
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/berth
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY crds ./crds
COPY src ./src
COPY controllers ./controllers
RUN ln -s /opt/berth/bin/berth.js /usr/local/bin/berth
WORKDIR /work
ENTRYPOINT ["berth"]
CMD ["--help"]
