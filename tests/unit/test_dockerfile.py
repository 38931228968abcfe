"""What a Dockerfile makes the engine fetch, read as the classic builder reads it (no engine)."""

from containersvc.dockerfile import dockerfile_fetches


def test_base_images_and_copy_from_images_but_not_stages_or_scratch():
    fetches = dockerfile_fetches(
        "FROM --platform=linux/amd64 registry.example:5000/team/base:1 AS build\n"
        "RUN make\n"
        "FROM scratch\n"
        "COPY --from=build /out /out\n"
        "COPY --from=0 /a /a\n"
        "COPY --from=127.0.0.1:80/x:1 /b /b\n"
        "from Build\n"
    )

    assert fetches.images == ("registry.example:5000/team/base:1", "127.0.0.1:80/x:1")
    assert fetches.urls == ()


def test_variables_come_from_arg_defaults_and_env():
    fetches = dockerfile_fetches(
        "ARG REGISTRY=127.0.0.1:5000\n"
        "ARG TAG\n"
        "FROM ${REGISTRY}/app:${TAG:-latest}\n"
        "ARG REGISTRY\n"
        "ENV HOST=169.254.169.254 PORT=80\n"
        "ENV LEGACY some value\n"
        'ADD ["http://${HOST}:$PORT/latest/meta-data", "/meta"]\n'
        "ADD --chown=1:1 https://example.test/a.tgz local.txt /dest/\n"
        "COPY --from=$REGISTRY/other /x /x\n"
    )

    assert fetches.images == ("127.0.0.1:5000/app:latest", "127.0.0.1:5000/other")
    assert fetches.urls == ("http://169.254.169.254:80/latest/meta-data", "https://example.test/a.tgz")


def test_continuations_comments_and_the_escape_directive():
    fetches = dockerfile_fetches(
        "# escape=`\n"
        "FROM `\n"
        "  # a comment inside the instruction\n"
        "  10.0.0.1:5000/x\n"
        "ADD http://10.0.0.2/file `\n"
        "    /file\n"
    )

    assert fetches.images == ("10.0.0.1:5000/x",)
    assert fetches.urls == ("http://10.0.0.2/file",)
