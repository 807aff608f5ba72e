"""Qt-free per-frame core: capture, face, AUs, scoring, explanation, alerts, recording.

The modules are laid out by the stage of the pipeline they serve; a module imports only from its
own stage or the stages above it (``tests/test_import_graph.py`` holds this map and checks it):

1. **common** (no stage of its own): ``errors``, ``records`` (the immutable per-frame record),
   ``private_files``, ``processes`` (is a killed run's process gone), ``roi``, ``landmarks``
   (MediaPipe landmark index groups), ``credentials``.
2. **capture**: ``sources`` (files, image folders, cameras, streams), ``reconnect``, ``streams``,
   ``player`` (playback thread, newest frame wins), ``frame_loop`` (the one read -> process loop).
3. **face**: ``face_nets`` (MediaPipe's networks on LiteRT or torch), ``face`` (the tracker),
   ``net_pool`` (the networks shared by several streams, batched).
4. **AUs**: ``au_geometry``, ``au_appearance``, ``au_crop``, ``au_regions``, ``au_engine`` (the
   embedded engine), ``engine_api``, ``openface_csv``, ``openface``, ``engines`` (the one factory).
5. **scoring and explanation**: ``scoring`` (PSPI, the AuE-IPA score), ``gradcam``, ``engagement``,
   ``explain``, ``alerts``.
6. **pipeline**: ``pipeline`` (one frame through face, AUs, score), ``all_faces``, ``pipeline_factory``.
7. **sessions and outputs**: ``recorder``, ``face_table`` (one line per face_id of a CSV),
   ``session``, ``retention``, ``outputs``, ``monitor`` (the monitor session the window shows),
   ``ward``, ``analyze``, ``whole_recording`` (analyze's second pass: AUs against the whole
   recording's neutral), ``export``, ``parallel``.
"""
