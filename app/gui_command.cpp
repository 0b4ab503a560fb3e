// The explorer window: the seed example (or a session or config from the command line), with scripted actions.
#include <QApplication>
#include <QScreen>
#include <QSettings>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "commands.h"
#include "gui_script.h"
#include "main_window.h"
#include "session/session_controller.h"
#include "session/session_spec.h"

int run_gui(int argc, char** argv) {
    using namespace stepscope::ui;
    // The command line is checked before a window system is needed, so mistakes get a one-line answer.
    QStringList arguments;
    for (int i = 1; i < argc; ++i) arguments << QString::fromLocal8Bit(argv[i]);
    GuiOptions options;
    SessionSpec spec;
    try {
        options = parse_gui_arguments(arguments);
        if (options.help) {
            std::printf("%s", qPrintable(gui_usage()));
            return 0;
        }
        spec = options.spec ? *options.spec : seed_example();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "stepscope: %s\n", e.what());
        return 2;
    }
    if (!std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY") && !std::getenv("QT_QPA_PLATFORM")) {
        std::fprintf(stderr,
                     "stepscope: no display (DISPLAY is not set); run it under xvfb-run, "
                     "or use `stepscope export` for plots without a window\n");
        return 2;
    }

    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("Stepscope"));
    QApplication::setApplicationName(QStringLiteral("Stepscope"));
    QApplication::setApplicationVersion(QStringLiteral(STEPSCOPE_VERSION));

    // A session's runs, or a file by what it is, open in place of the seed example.
    const bool opens_itself = options.tree.has_value() || !options.open_file.isEmpty();
    MainWindow window(spec, nullptr, !opens_itself);
    if (options.tree) window.controller()->openTree(*options.tree);
    else if (!options.open_file.isEmpty() && !window.openFile(options.open_file)) {
        std::fprintf(stderr, "stepscope: %s\n", qPrintable(window.errorText()));
        return 2;
    }
    QSettings settings;
    // A scripted screenshot has a fixed size so the README's picture does not depend on the last session;
    // a smaller screen (a 1280x720 check) bounds it.
    const bool scripted = options.quits();
    if (options.window_size.isValid()) window.resize(options.window_size);
    else if (scripted) window.resize(QSize(1600, 1000).boundedTo(window.screen()->availableSize()));
    else if (!window.restoreGeometry(settings.value(QStringLiteral("mainwindow/geometry")).toByteArray()))
        window.resize(1500, 950);
    if (!scripted && !options.window_size.isValid())
        window.restoreState(settings.value(QStringLiteral("mainwindow/state")).toByteArray());
    window.show();
    GuiScript script(&window, options.actions, scripted, options.report_throughput);
    script.start();
    const int code = QApplication::exec();
    if (!scripted) {
        settings.setValue(QStringLiteral("mainwindow/geometry"), window.saveGeometry());
        settings.setValue(QStringLiteral("mainwindow/state"), window.saveState());
    }
    return code;
}
